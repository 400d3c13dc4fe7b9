-- wrk script for bench/load.py: caps the request count, counts every answer
-- that is not a 200, and reports as JSON.
--
--   wrk ... -s bench/wrk.lua <url> -- <max requests per thread>
--
-- wrk counts only 4xx and 5xx as errors; a lapsed session answers 302 (to the
-- sign-in page), which would otherwise pass for a fast page.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- Per-thread state. Globals, so done() can read them through thread:get().
cap = 0
sent = 0
not_ok = 0
local req = nil

function init(args)
  cap = tonumber(args[1]) or 0
  -- The same bytes every time (method, path, -H headers), built once.
  req = wrk.format()
end

function request()
  sent = sent + 1
  if cap > 0 and sent >= cap then
    -- This request still goes out; the thread stops its loop after it.
    wrk.thread:stop()
  end
  return req
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local total_not_ok = 0
  for _, thread in ipairs(threads) do
    total_not_ok = total_not_ok + (thread:get("not_ok") or 0)
  end
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"not_200":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes, total_not_ok,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency.max))
end
