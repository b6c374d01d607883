"""The builtin engine's costs with a real llama-server on the tiny GGUF (tools/tiny-gguf).

1. Cold start, split in three: download (the warming endpoint's `downloading` phase), llama-server
   start (`loading` until `ready`) and first token (`ready` until the first streamed content),
   for several cold models (each a new catalog id for the same weights, so each downloads).
2. Overhead of Hub + node on a warm streamed request (16 tokens) versus calling a llama-server
   started with the same binary, model and flags directly: medians of N requests, time to first
   token and to the end of the stream.

Usage: tools/bench/builtin.py [--binary .build/release/porten] [--requests 50] [--cold 5]
"""
import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import httpx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../conformance"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import llama  # noqa: E402
from porten_fleet import ROOT, Hub, LlamaServer  # noqa: E402

ARGS = ["--ignore-eos", "--temp", "0", "--seed", "42", "--threads", "2", "--parallel", "1"]
BODY = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 16, "temperature": 0, "stream": True}


def streamed(client, url, key, model):
    """(seconds to the first content chunk, seconds to the end) of one streamed request."""
    started = time.perf_counter()
    first = None
    with client.stream("POST", url + "/chat/completions", json={**BODY, "model": model},
                       headers={"Authorization": f"Bearer {key}"}) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if first is None and '"content":"' in line and '"content":""' not in line:
                first = time.perf_counter() - started
    return first, time.perf_counter() - started


def watch_phases(hub_url, model, stop):
    """Times (perf_counter) at which the warming endpoint first showed each phase."""
    seen = {}
    with httpx.Client() as client:
        while not stop.is_set():
            phase = client.get(hub_url + "/public/v1/models/warming", params={"model": model}).json()["phase"]
            seen.setdefault(phase, time.perf_counter())
            time.sleep(0.002)
    return seen


def ms(values):
    return f"median {statistics.median(values) * 1000:7.1f} ms  (min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/porten")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--cold", type=int, default=5)
    args = parser.parse_args()
    server = llama.find_server()
    with tempfile.TemporaryDirectory() as data:
        model = os.path.join(data, "tiny.gguf")
        subprocess.run([sys.executable, os.path.join(ROOT, "tools/tiny-gguf/make.py"), model], check=True, capture_output=True)
        files, url = llama.serve_file(model)
        with open(model, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        fleet = Hub(data, binary=os.path.abspath(args.binary), catalog=llama.catalog(url, digest, chat_models=[f"cold-{i}" for i in range(args.cold)]),
                    session=True)  # stopping it stops the llama-servers its node starts
        try:
            fleet.start().with_account("bench")
            fleet.add_node(fleet.account_id, data, "builtin", ("--vram-budget-mb", "100000", "--weights-dir", os.path.join(data, "weights"),
                                                               "--llama-args=" + " ".join(ARGS), "--log-level", "warning"),
                           engine="builtin", extra_env={"PORTEN_LLAMA_SERVER": server}).start()
            splits = {"download": [], "llama-server start": [], "first token": [], "total": []}
            with httpx.Client(timeout=120) as client:
                for i in range(args.cold):
                    stop = threading.Event()
                    result = {}
                    watcher = threading.Thread(target=lambda: result.update(watch_phases(fleet.url, f"cold-{i}", stop)))
                    watcher.start()
                    time.sleep(0.05)
                    started = time.perf_counter()
                    first, _ = streamed(client, fleet.base_url, fleet.api_key, f"cold-{i}")
                    stop.set()
                    watcher.join()
                    # A phase shorter than one poll may go unseen: it then counts as zero.
                    loading = result.get("loading", result["ready"])
                    splits["download"].append(loading - result.get("downloading", loading))
                    splits["llama-server start"].append(result["ready"] - loading)
                    splits["first token"].append(started + first - result["ready"])
                    splits["total"].append(first)
                print(f"cold start ({args.cold} models, tiny GGUF of {os.path.getsize(model) // 1024} KB over loopback HTTP, phases seen by polling the warming endpoint every ~2 ms):")
                for name, values in splits.items():
                    print(f"  {name:20s} {ms(values)}")

                direct = LlamaServer(server, model, data, "direct", *ARGS).start()
                try:
                    hub, plain = [], []
                    for _ in range(5):  # warm both
                        streamed(client, fleet.base_url, fleet.api_key, "cold-0")
                        streamed(client, direct.url, direct.key, "tiny")
                    for _ in range(args.requests):  # interleaved, so drift hits both alike
                        hub.append(streamed(client, fleet.base_url, fleet.api_key, "cold-0"))
                        plain.append(streamed(client, direct.url, direct.key, "tiny"))
                finally:
                    direct.stop()
            print(f"warm streamed request, 16 tokens, {args.requests} each, interleaved:")
            for label, index in (("first token", 0), ("whole stream", 1)):
                through, alone = [h[index] for h in hub], [p[index] for p in plain]
                print(f"  {label:13s} via Hub + node {ms(through)}")
                print(f"  {'':13s} llama-server   {ms(alone)}")
                print(f"  {'':13s} overhead       median {(statistics.median(through) - statistics.median(alone)) * 1000:7.1f} ms")
        finally:
            fleet.stop()
            files.shutdown()


if __name__ == "__main__":
    main()
