"""Latency of sequential non-streaming chat requests through a Hub to a sim node on loopback.

Starts `porten dev` on a free port with a throw-away data dir, sends N requests one after the
other over one keep-alive connection, and prints the median, p90, p99 and max in milliseconds.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import httpx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from porten_fleet import porten_dev  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--binary", default=os.environ.get("PORTEN_BIN", ".build/release/porten"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        dev, env = porten_dev(data_dir, binary=args.binary, extra_args=("--log-level", "warning"))
        try:
            with httpx.Client(base_url=env["PORTEN_BASE_URL"], headers={"Authorization": f"Bearer {env['PORTEN_API_KEY']}"}) as client:
                body = {"model": "ref-chat", "messages": [{"role": "user", "content": "Hello, world!"}]}
                deadline = time.monotonic() + 15
                while client.post("/chat/completions", json=body).status_code != 200:
                    if time.monotonic() > deadline:
                        raise SystemExit("the sim node never became ready")
                    time.sleep(0.05)
                for _ in range(args.warmup):
                    client.post("/chat/completions", json=body)
                samples = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    response = client.post("/chat/completions", json=body)
                    samples.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
        finally:
            dev.stop()
    samples.sort()
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
    print(f"binary={args.binary} requests={len(samples)} sequential, non-streaming, ref-chat (6 completion tokens)")
    print(f"median={statistics.median(samples):.3f} ms  p90={pick(0.90):.3f} ms  p99={pick(0.99):.3f} ms  max={samples[-1]:.3f} ms")


if __name__ == "__main__":
    sys.exit(main())
