-- GET /api/v1/customers/lookup?value=<random preloaded phone> (keep-alive; wrk's default).
-- Env: BENCH_CUSTOMERS (preloaded customers), BENCH_TOKEN (bearer token). The hello baseline
-- gets the very same requests.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua"
local common = require("common")
setup = common.setup

function init(args)
  customers = tonumber(os.getenv("BENCH_CUSTOMERS") or "1000")
  auth = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
  math.randomseed(1000 + tid)
  ok2xx, non2xx = 0, 0
end

function request()
  local path = "/api/v1/customers/lookup?value=" .. common.phone(math.random(0, customers - 1), true)
  return wrk.format("GET", path, {["Authorization"] = auth})
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok2xx = ok2xx + 1 else non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  common.done(summary, latency, {"ok2xx", "non2xx"})
end
