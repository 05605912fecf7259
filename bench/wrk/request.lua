-- wrk script for bench/run.py: one request, repeated on every keep-alive connection.
--
-- The method and the form body come from the environment, so that one script serves the
-- job-creation POSTs (BENCH_METHOD=POST, BENCH_BODY=message=bench) and the GETs alike.
-- At the end it writes one line "BENCH_JSON {...}" with the counts, the errors and the
-- latency distribution (microseconds) that bench/run.py parses.

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
local authorization = os.getenv("BENCH_AUTHORIZATION") or ""

wrk.method = method
if authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
