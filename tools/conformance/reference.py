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


class Fleet:
    """A Hub on a free port with a throw-away data dir under `data/name` (the given catalog, or
    the built-in ref-* one), an account and an API key; nodes join with `node(...)`."""

    def __init__(self, data, name, catalog=None):
        self.data = os.path.join(data, name)
        os.makedirs(self.data)
        self.port, self.token = free_port(), "padm-" + secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        extra = []
        if catalog is not None:
            extra = ["--catalog", os.path.join(self.data, "catalog.json")]
            with open(extra[1], "w") as f:
                json.dump(catalog, f)
        self.log = open(os.path.join(self.data, "fleet.log"), "ab")
        self.processes = [subprocess.Popen([PORTEN, "hub", "--port", str(self.port), "--data-dir", self.data, "--admin-token", self.token,
                                            *extra], stdout=self.log, stderr=self.log)]
        wait_for(lambda: urllib.request.urlopen(self.url + "/healthz", timeout=1).status == 200, "the hub")
        self.account = admin(self.url, self.token, "POST", "accounts", {"name": "conformance"})["id"]
        self.key = admin(self.url, self.token, "POST", "keys", {"account_id": self.account, "name": "conformance"})["key"]

    def node(self, *args, name="n", env=None):
        node = admin(self.url, self.token, "POST", "nodes", {"account_id": self.account, "name": name, "region": "eu", "trust_class": "verified"})
        self.processes.append(subprocess.Popen([PORTEN, "node", "--hub", self.url, "--credential", node["credential"], *args],
                                               stdout=self.log, stderr=self.log, env={**os.environ, **(env or {})}))

    def wait_connected(self):
        wait_for(lambda: all(n["connected"] for n in admin(self.url, self.token, "GET", "nodes")["data"]), "the nodes")

    def stop(self):
        for process in reversed(self.processes):
            process.terminate()
            process.wait(timeout=15)


def main():
    args = sys.argv[1:] or ["run"]
    with tempfile.TemporaryDirectory() as data:
        fleet = Fleet(data, "hub")
        try:
            fleet.node("--engine", "sim", name="fixed")
            fleet.node("--engine", "sim", "--models", "", "--vram-budget-mb", "16000", "--sim-download-mbps", "5", name="provisionable")
            fleet.wait_connected()
            command = [SUITE, *args, "--base-url", fleet.url + "/v1", "--api-key", fleet.key, "--admin-token", fleet.token,
                       "--goldens", os.path.join(ROOT, "Golden")]
            if args[0] in ("run", "record") and "--profile" not in args:
                command += ["--profile", "reference"]
            return subprocess.call(command)
        finally:
            fleet.stop()


if __name__ == "__main__":
    sys.exit(main())
