#!/usr/bin/env python3
"""A/B two `porten` builds on the same upstream: both fleets up at once, measured in alternation.

Single sequential runs on a small VM move ±20 % between runs, and the fleet started first
measures a few per cent slower; alternating rounds (A then B, then B then A) and their medians
cancel most of that. Usage:

    tools/bench/ab.py OLD_BINARY NEW_BINARY [--rounds 5] [--connections 1,32] [--duration 3] [--request chat|stream|whole]

`--request`: `chat` (default) a one-sentence answer read whole; `stream` a streamed answer of
16 chunks (CPU also per chunk); `whole` the same 16-chunk answer read whole (the Hub assembles it).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import (COMPLETION, REQUEST, bench_fleet, completion_stream_body, fleet_processes, free_port, measure, nginx, stop_on_sigterm,  # noqa: E402
                     stream_body, wait_http)


def main():
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", help="the first build (A), usually the older one")
    parser.add_argument("b", help="the second build (B)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", default="1,32", help="comma-separated wrk concurrencies")
    parser.add_argument("--duration", type=int, default=3, help="seconds per measurement")
    parser.add_argument("--request", choices=("chat", "stream", "whole"), default="chat", help="what each request asks for")
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    chunks = 16
    # The request, and the node that answers it (its CPU is counted with the Hub's).
    body, node = {
        "chat": (REQUEST, "porten-node"),
        "stream": ({**REQUEST, "model": "bench-stream", "stream": True}, "porten-stream-node"),
        "whole": ({**REQUEST, "model": "bench-stream"}, "porten-stream-node"),
    }[args.request]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as work:
        up_port, stream_port = free_port(), free_port()
        processes = [
            nginx("upstream", work, f"""server {{ listen 127.0.0.1:{up_port};
  location /sse/ {{ default_type text/event-stream; return 200 '{completion_stream_body()}'; }}
  location / {{ default_type application/json; return 200 '{json.dumps(COMPLETION, separators=(",", ":"))}'; }} }}"""),
            nginx("stream-upstream", work, f"""server {{ listen 127.0.0.1:{stream_port};
  location / {{ default_type text/event-stream; return 200 '{stream_body(chunks)}'; }} }}"""),
        ]
        try:
            wait_http(f"http://127.0.0.1:{up_port}/v1/chat/completions", body=REQUEST)
            fleets = {}
            for name, binary in (("A", args.a), ("B", args.b)):
                directory = os.path.join(work, name)
                os.makedirs(directory)
                hub = bench_fleet(binary, directory, f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{stream_port}")
                fleet, url = fleet_processes(hub), hub.url
                processes += fleet
                auth = {"Authorization": f"Bearer {hub.api_key}"}
                wait_http(url + "/v1/chat/completions", headers=auth, body=body)
                fleets[name] = (fleet, url + "/v1/chat/completions", auth)
            results = {(name, c): [] for name in fleets for c in connections}
            for round_ in range(args.rounds):
                for c in connections:
                    for name in ("A", "B") if round_ % 2 == 0 else ("B", "A"):
                        fleet, url, auth = fleets[name]
                        measured = [p for p in fleet if p.name in ("porten-hub", node)]
                        results[(name, c)].append(measure(name, url, c, args.duration, auth, body, measured, work))
            print(f"{args.request}: medians of {args.rounds} alternating rounds of {args.duration} s; A = {args.a}, B = {args.b}")
            for c in connections:
                for name in ("A", "B"):
                    runs = results[(name, c)]

                    def median(field):
                        return statistics.median(field(run) for run in runs)

                    hub, node_us = median(lambda r: r["cpu_us"]["porten-hub"]), median(lambda r: r["cpu_us"][node])
                    # As compare.py counts them: the chunks, the role and finish chunks and `[DONE]`.
                    per_chunk = f" (per chunk {hub / (chunks + 3):.1f} + {node_us / (chunks + 3):.1f})" if args.request == "stream" else ""
                    print(f"{name} c={c}: {median(lambda r: r['rps']):,.0f} req/s, p50 {median(lambda r: r['p50']):.3f} ms, "
                          f"CPU-µs per request hub {hub:.0f} + node {node_us:.0f}{per_chunk}, non-2xx {sum(r['non2xx'] for r in runs)}, "
                          f"p99 per round {[round(r['p99'], 1) for r in runs]} ms")
        finally:
            for process in processes:
                process.stop()


if __name__ == "__main__":
    main()
