-- POST <path> to the phone_webhook connector: newCall events with a unique call_id per request
-- ("<prefix>-<thread>-<n>") from a random preloaded caller, signed with X-Omnitrail-Signature.
-- Counts 2xx (the connector answers 200 only after the store committed). Env: BENCH_CUSTOMERS,
-- BENCH_SECRET, BENCH_PREFIX, BENCH_PATH, BENCH_EXTENSION.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua"
local common = require("common")
local hmac = require("hmac")
setup = common.setup

function init(args)
  customers = tonumber(os.getenv("BENCH_CUSTOMERS") or "1000")
  prefix = os.getenv("BENCH_PREFIX") or "wh"
  path = os.getenv("BENCH_PATH") or "/webhooks/cti"
  ext = os.getenv("BENCH_EXTENSION") or "6001"
  sign = hmac.hmac_sha256_hex(os.getenv("BENCH_SECRET") or "")
  math.randomseed(3000 + tid)
  n, ok2xx, non2xx, dups = 0, 0, 0, 0
end

function request()
  n = n + 1
  local body = string.format('{"event":"newCall","call_id":"%s-%d-%d","from":"%s","to":"%s","extension":"%s"}',
                             prefix, tid, n, common.phone(math.random(0, customers - 1), false), ext, ext)
  local t = tostring(os.time())
  return wrk.format("POST", path, {["Content-Type"] = "application/json",
                                   ["X-Omnitrail-Signature"] = "t=" .. t .. ",v1=" .. sign(t .. "." .. body)}, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok2xx = ok2xx + 1
    if body and body:find('"duplicate":true', 1, true) then dups = dups + 1 end
  else
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  common.done(summary, latency, {"ok2xx", "non2xx", "dups", "n"})
end
