-- POST /api/v1/interactions with a unique external_id per request ("<prefix>-<thread>-<n>") for
-- a random preloaded caller (phone identifier). Counts 2xx (committed: the daemon answers after
-- the group commit) and duplicate answers separately.
-- Env: BENCH_CUSTOMERS, BENCH_TOKEN, BENCH_PREFIX (unique per run), BENCH_QUOTA (2xx answers per
-- thread after which the thread stops sending; 0 = no quota, bounded by -d).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua"
local common = require("common")
setup = common.setup

function init(args)
  customers = tonumber(os.getenv("BENCH_CUSTOMERS") or "1000")
  auth = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
  prefix = os.getenv("BENCH_PREFIX") or "wrk"
  quota = tonumber(os.getenv("BENCH_QUOTA") or "0")
  math.randomseed(2000 + tid)
  n, ok2xx, non2xx, dups = 0, 0, 0, 0
  headers = {["Authorization"] = auth, ["Content-Type"] = "application/json"}
end

function request()
  n = n + 1
  local body = string.format(
    '{"external_id":"%s-%d-%d","kind":"api.event","channel":"api","text":"bench ingest",' ..
    '"identifiers":[{"kind":"phone","value":"%s"}]}', prefix, tid, n, common.phone(math.random(0, customers - 1), false))
  return wrk.format("POST", "/api/v1/interactions", headers, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok2xx = ok2xx + 1
    if body and body:find('"duplicate":true', 1, true) then dups = dups + 1 end
  else
    non2xx = non2xx + 1
  end
  if quota > 0 and ok2xx >= quota then wrk.thread:stop() end
end

function done(summary, latency, requests)
  common.done(summary, latency, {"ok2xx", "non2xx", "dups", "n"})
end
