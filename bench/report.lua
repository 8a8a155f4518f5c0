-- Shared by the wrk scripts: prints the figures bench/load.ts reads.
done = function(summary, latency, requests)
  io.write(string.format("bench_requests %d\nbench_duration_us %d\nbench_non2xx %d\nbench_errors %d\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("bench_p50_us %d\nbench_p99_us %d\n", latency:percentile(50), latency:percentile(99)))
end
