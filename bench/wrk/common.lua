-- Shared by the bench wrk scripts: per-thread counters, the preload's phone numbers and one
-- machine-readable "BENCHJSON {...}" line printed by done() (parsed by bench/benchlib.py).
local M = {}
local threads = {}
local next_id = 0

function M.setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

local areas = {212, 312, 415, 617, 702, 713, 808, 919}
-- bench_phone(i) of bench/benchlib.py, URL-encoded ("+" as %2B) or plain.
function M.phone(i, encoded)
  local j = math.floor(i / 8)
  return string.format("%s1%03d%03d%04d", encoded and "%2B" or "+", areas[(i % 8) + 1],
                       230 + math.floor(j / 10000) % 70, j % 10000)
end

function M.done(summary, latency, extra_fields)
  local sums = {}
  for _, name in ipairs(extra_fields) do sums[name] = 0 end
  for _, t in ipairs(threads) do
    for _, name in ipairs(extra_fields) do sums[name] = sums[name] + (t:get(name) or 0) end
  end
  local e = summary.errors
  local parts = {
    string.format('"requests":%d,"duration_us":%d,"bytes":%d', summary.requests, summary.duration, summary.bytes),
    string.format('"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d,"errors_status":%d',
                  e.connect, e.read, e.write, e.timeout, e.status),
    string.format('"latency_p50_us":%d,"latency_p99_us":%d,"latency_max_us":%d,"latency_mean_us":%.1f',
                  latency:percentile(50), latency:percentile(99), latency.max, latency.mean),
  }
  for _, name in ipairs(extra_fields) do table.insert(parts, string.format('"%s":%d', name, sums[name])) end
  io.write("BENCHJSON {" .. table.concat(parts, ",") .. "}\n")
end

return M
