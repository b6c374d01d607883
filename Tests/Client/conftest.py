"""Fixtures that run a real Hub and real node agents as processes on loopback.

The Hub and nodes are the `porten` binary named by $PORTEN_BIN (tools/test builds it); the
operator side (accounts, keys, nodes) goes through the Hub's admin API, as an operator would.
"""
import os
import re
import secrets
import socket
import subprocess
import time

import httpx
import pytest
from openai import OpenAI

PORTAL_PASSWORD = "correct horse battery"
PORTEN_BIN = os.environ.get("PORTEN_BIN", os.path.join(os.path.dirname(__file__), "../../.build/debug/porten"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout=15.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


class Process:
    """A child process whose output goes to a log file, stopped with SIGTERM then SIGKILL."""

    def __init__(self, args, log_path):
        self.args = args
        self.log_path = log_path
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        return self

    def stop(self, sig_kill=False):
        if self.proc and self.proc.poll() is None:
            if sig_kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class Hub:
    """A Hub process. Replicas share one `data_dir` (and a Redis); each has its own `name` and log."""

    def __init__(self, tmp_path, extra_args=(), name="hub", data_dir=None, admin_token=None):
        self.port = free_port()
        self.admin_token = admin_token or "padm-" + secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.url + "/v1"
        self.data_dir = data_dir or str(tmp_path / "hub")
        self.process = Process(
            [PORTEN_BIN, "hub", "--port", str(self.port), "--data-dir", self.data_dir, "--admin-token", self.admin_token, *extra_args],
            str(tmp_path / f"{name}.log"),
        )
        self.nodes = []

    def start(self):
        self.process.start()
        wait_until(self.healthy, what="hub health")
        return self

    def healthy(self):
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def admin(self, method, path, **kwargs):
        response = httpx.request(
            method, f"{self.url}/admin/v1/{path}", headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=10, **kwargs
        )
        assert response.status_code < 300, response.text
        return response.json()

    def create_key(self, account_id):
        """The created key record; its plain key is in `key`."""
        return self.admin("POST", "keys", json={"account_id": account_id, "name": "test"})

    def add_node(self, account_id, tmp_path, name="sim", extra_args=(), region="eu", trust_class="verified"):
        created = self.admin("POST", "nodes", json={"account_id": account_id, "name": name, "region": region, "trust_class": trust_class})
        node = Node(self, created["id"], created["credential"], str(tmp_path / f"node-{name}.log"), extra_args)
        self.nodes.append(node)
        return node

    def create_user(self, email, *extra):
        """`porten admin users create`, as an operator runs it; returns the one-time link it prints."""
        output = subprocess.run(
            [PORTEN_BIN, "admin", "users", "create", "--hub", self.url, "--token", self.admin_token, "--email", email, *extra],
            check=True, capture_output=True, text=True, timeout=30,
        ).stdout
        links = re.findall(r"http://\S+/set-password\?token=\w+", output)
        assert links, output
        return links[-1]

    def signed_in(self, email, account_id, password=PORTAL_PASSWORD):
        """A browser-like httpx session of a new user of `account_id`, signed in through the
        set-password link; its `csrf` attribute is the session's CSRF token."""
        token = self.create_user(email, "--account", account_id).split("token=")[1]
        session = httpx.Client(base_url=self.url, headers={"Accept": "text/html"})
        session.get("/signin")
        pre = session.cookies["porten_csrf"]
        answer = session.post("/set-password", data={"csrf": pre, "token": token, "password": password, "repeat": password})
        assert answer.status_code == 303, answer.text
        session.csrf = re.search(r'name="csrf-token" content="(\w+)"', session.get("/build/keys").text).group(1)
        return session

    def fleet(self):
        """The planner's view: GET /admin/v1/fleet."""
        return self.admin("GET", "fleet")

    def warming(self, model):
        return httpx.get(f"{self.url}/public/v1/models/warming", params={"model": model}, timeout=5).json()

    def node_status(self, node_id):
        return next(n for n in self.admin("GET", "nodes")["data"] if n["id"] == node_id)

    def stop(self):
        for node in self.nodes:
            node.process.stop()
        self.process.stop()


class Node:
    def __init__(self, hub, node_id, credential, log_path, extra_args):
        self.hub = hub
        self.id = node_id
        self.credential = credential
        self.process = Process(
            [PORTEN_BIN, "node", "--hub", hub.url, "--credential", credential, "--engine", "sim", *extra_args], log_path
        )

    def start(self):
        self.process.start()
        self.wait_connected()
        return self

    def wait_connected(self, timeout=15.0):
        wait_until(lambda: self.hub.node_status(self.id)["connected"], timeout=timeout, what=f"node {self.id} to connect")

    def wait_disconnected(self):
        wait_until(lambda: not self.hub.node_status(self.id)["connected"], what=f"node {self.id} to disconnect")


class RedisServer:
    """A throwaway `redis-server` on a free loopback port, nothing saved; `kill` and `start` again
    keep the port (a Redis outage and its return)."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        directory = tmp_path / f"redis-{self.port}"
        directory.mkdir()
        self.process = Process(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)],
            str(directory / "redis.log"),
        )

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self):
        self.process.start()
        wait_until(self.ping, what="redis-server")
        return self

    def kill(self):
        self.process.stop(sig_kill=True)


@pytest.fixture
def fleet(tmp_path):
    """A Hub with one account, one API key and one connected sim node (5 ms between tokens)."""
    hub = Hub(tmp_path).start()
    try:
        account = hub.admin("POST", "accounts", json={"name": "test"})
        hub.account_id = account["id"]
        hub.api_key = hub.create_key(account["id"])["key"]
        hub.node = hub.add_node(account["id"], tmp_path, extra_args=("--token-delay-ms", "5")).start()
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def client(fleet):
    return OpenAI(base_url=fleet.base_url, api_key=fleet.api_key, max_retries=0, timeout=30)
