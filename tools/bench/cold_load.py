"""The Hub's overhead on cold requests: a Hub and a provisionable sim node on loopback, N cold
models each taking a nominal 0.2 s to "download" and "load" (one 100 ms tick each), one cold
request per model. Prints the median cold latency, the nominal simulated time, and the
difference: what routing, the load/progress/loaded frames and waking the request cost (the
sim's own sleep overshoot included).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import httpx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from porten_fleet import Hub  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--binary", default=os.environ.get("PORTEN_BIN", ".build/release/porten"))
    args = parser.parse_args()
    nominal = 0.2  # 100 MB at 1000 MB/s in 100 ms ticks, twice
    catalog = {"models": [{"id": f"cold-{i}", "type": "chat", "ctx": 4096, "vram_mb": 100, "disk_mb": 100} for i in range(args.models)]}
    with tempfile.TemporaryDirectory() as data_dir:
        hub = Hub(data_dir, ("--log-level", "warning"), binary=args.binary, catalog=catalog)
        try:
            hub.start().with_account("bench")
            hub.add_node(hub.account_id, data_dir, "sim", ("--models", "", "--vram-budget-mb", str(100 * args.models + 100),
                                                           "--sim-download-mbps", "1000", "--sim-load-mbps", "1000", "--log-level", "warning")).start()
            with httpx.Client(base_url=hub.base_url, headers={"Authorization": f"Bearer {hub.api_key}"}, timeout=30) as client:
                cold, warm = [], []
                for i in range(args.models):
                    body = {"model": f"cold-{i}", "messages": [{"role": "user", "content": "Hello, world!"}]}
                    for samples in (cold, warm):
                        started = time.perf_counter()
                        response = client.post("/chat/completions", json=body)
                        samples.append(time.perf_counter() - started)
                        assert response.status_code == 200, response.text
        finally:
            hub.stop()
    median = statistics.median(cold)
    print(f"{args.models} cold requests: median {median * 1000:.1f} ms, max {max(cold) * 1000:.1f} ms; "
          f"nominal simulated load {nominal * 1000:.0f} ms; Hub overhead (median − nominal) {(median - nominal) * 1000:.1f} ms; "
          f"the same requests warm: median {statistics.median(warm) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
