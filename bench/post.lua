-- wrk script: POST the body in WRK_BODY with the headers in WRK_HEADERS ("name: value" lines).
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["content-type"] = "application/json"
wrk.headers["accept"] = "application/json, text/event-stream"
for line in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end

done = function(summary, latency, requests)
  io.write(string.format("bench_requests %d\nbench_duration_us %d\nbench_non2xx %d\nbench_errors %d\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("bench_p50_us %d\nbench_p99_us %d\n", latency:percentile(50), latency:percentile(99)))
end
