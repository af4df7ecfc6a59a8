"""Metrics: counters and latency percentiles as a dict, and as Prometheus text."""

import json

from tiermem import MetricsCallback, TieredMemory

metrics = MetricsCallback()  # nothing is recorded unless a handler is passed in
with TieredMemory("memory://", callbacks=[metrics]) as mem:
    for i in range(30):
        mem.add_message("user", f"Build {i} took {i % 7 + 3} minutes.", session_id="ci")
    mem.search("how long did the build take?")
    mem.build_context("build time", session_id="ci", max_tokens=300)

snapshot = metrics.snapshot()
print(json.dumps(snapshot["counters"], indent=2))
latency = snapshot["latency"]["add_message"]
print(f"add_message: p50 {latency['p50'] * 1e3:.2f} ms, p99 {latency['p99'] * 1e3:.2f} ms "
      f"over {latency['total']} calls")  # fmt: skip
print()
print(metrics.prometheus(), end="")  # serve this text on your application's /metrics route
