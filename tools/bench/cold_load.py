"""The Hub's overhead on cold requests: a Hub and a provisionable sim node on loopback, N cold
models each taking a nominal 0.2 s to "download" and "load" (one 100 ms tick each), one cold
request per model. Prints the median cold latency, the nominal simulated time, and the
difference: what routing, the load/progress/loaded frames and waking the request cost (the
sim's own sleep overshoot included).
"""
import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import tempfile
import time

import httpx


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, what, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--binary", default=os.environ.get("PORTEN_BIN", ".build/release/porten"))
    args = parser.parse_args()
    nominal = 0.2  # 100 MB at 1000 MB/s in 100 ms ticks, twice
    catalog = {"models": [{"id": f"cold-{i}", "type": "chat", "ctx": 4096, "vram_mb": 100, "disk_mb": 100} for i in range(args.models)]}
    with tempfile.TemporaryDirectory() as data_dir:
        catalog_path = os.path.join(data_dir, "catalog.json")
        with open(catalog_path, "w") as f:
            json.dump(catalog, f)
        port, token = free_port(), "padm-" + secrets.token_hex(16)
        url = f"http://127.0.0.1:{port}"
        hub = subprocess.Popen([args.binary, "hub", "--port", str(port), "--data-dir", data_dir, "--catalog", catalog_path,
                                "--admin-token", token, "--log-level", "warning"], stdout=subprocess.DEVNULL)
        node = None
        try:
            admin = httpx.Client(base_url=url + "/admin/v1", headers={"Authorization": f"Bearer {token}"})
            wait_for(lambda: _up(url), "the hub")
            account = admin.post("/accounts", json={"name": "bench"}).json()["id"]
            key = admin.post("/keys", json={"account_id": account, "name": "bench"}).json()["key"]
            created = admin.post("/nodes", json={"account_id": account, "name": "sim", "region": "eu", "trust_class": "verified"}).json()
            node = subprocess.Popen([args.binary, "node", "--hub", url, "--credential", created["credential"], "--engine", "sim", "--models", "",
                                     "--vram-budget-mb", str(100 * args.models + 100), "--sim-download-mbps", "1000",
                                     "--sim-load-mbps", "1000", "--log-level", "warning"], stdout=subprocess.DEVNULL)
            wait_for(lambda: any(n["connected"] for n in admin.get("/nodes").json()["data"]), "the node")
            with httpx.Client(base_url=url + "/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
                cold, warm = [], []
                for i in range(args.models):
                    body = {"model": f"cold-{i}", "messages": [{"role": "user", "content": "Hello, world!"}]}
                    for samples in (cold, warm):
                        started = time.perf_counter()
                        response = client.post("/chat/completions", json=body)
                        samples.append(time.perf_counter() - started)
                        assert response.status_code == 200, response.text
        finally:
            for proc in (node, hub):
                if proc:
                    proc.terminate()
                    proc.wait()
    median = statistics.median(cold)
    print(f"{args.models} cold requests: median {median * 1000:.1f} ms, max {max(cold) * 1000:.1f} ms; "
          f"nominal simulated load {nominal * 1000:.0f} ms; Hub overhead (median − nominal) {(median - nominal) * 1000:.1f} ms; "
          f"the same requests warm: median {statistics.median(warm) * 1000:.2f} ms")


def _up(url):
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
