"""Runs porten-conformance (profile `reference`) against a fresh reference fleet on loopback.

Starts `porten hub` on a free port with a throw-away data dir, one fixed sim node serving the
ref-* models and one provisionable sim node with a slow simulated download (so `ref-large` stays
cold for the `cold_model` fixture), then runs the suite with the hub's operator token so it can
arrange its policy fixtures. Extra arguments go to porten-conformance (`run` by default; pass
`record …` to refresh goldens). Exit status is the suite's.
"""
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
PORTEN = os.environ.get("PORTEN_BIN", os.path.join(ROOT, ".build/debug/porten"))
SUITE = os.environ.get("PORTEN_CONFORMANCE_BIN", os.path.join(ROOT, ".build/debug/porten-conformance"))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin(url, token, method, path, body=None):
    request = urllib.request.Request(f"{url}/admin/v1/{path}", method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def wait_for(condition, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def main():
    args = sys.argv[1:] or ["run"]
    with tempfile.TemporaryDirectory() as data:
        port, token = free_port(), "padm-" + secrets.token_hex(16)
        url = f"http://127.0.0.1:{port}"
        log = open(os.path.join(data, "fleet.log"), "ab")
        processes = [subprocess.Popen([PORTEN, "hub", "--port", str(port), "--data-dir", data, "--admin-token", token], stdout=log, stderr=log)]
        try:
            wait_for(lambda: urllib.request.urlopen(url + "/healthz", timeout=1).status == 200, "the hub")
            account = admin(url, token, "POST", "accounts", {"name": "conformance"})["id"]
            key = admin(url, token, "POST", "keys", {"account_id": account, "name": "conformance"})["key"]
            for name, extra in [("fixed", []), ("provisionable", ["--models", "", "--vram-budget-mb", "16000", "--sim-download-mbps", "5"])]:
                node = admin(url, token, "POST", "nodes", {"account_id": account, "name": name, "region": "eu", "trust_class": "verified"})
                processes.append(subprocess.Popen([PORTEN, "node", "--hub", url, "--credential", node["credential"], *extra], stdout=log, stderr=log))
            wait_for(lambda: all(n["connected"] for n in admin(url, token, "GET", "nodes")["data"]), "the sim nodes")
            command = [SUITE, *args, "--base-url", url + "/v1", "--api-key", key, "--admin-token", token, "--goldens", os.path.join(ROOT, "Golden")]
            if args[0] in ("run", "record") and "--profile" not in args:
                command += ["--profile", "reference"]
            return subprocess.call(command)
        finally:
            for process in reversed(processes):
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
