"""Fixtures that run a real Hub and real node agents as processes on loopback.

The Hub and nodes are the `porten` binary named by $PORTEN_BIN (tools/test builds it); the
operator side (accounts, keys, nodes) goes through the Hub's admin API, as an operator would.
"""
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
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
    """A sim node agent tunnelled to `hub`, or, with `hub_urls`, to the first of several replicas."""

    def __init__(self, hub, node_id, credential, log_path, extra_args, hub_urls=None):
        self.hub = hub
        self.id = node_id
        self.credential = credential
        self.process = Process(
            [PORTEN_BIN, "node", "--hub", ",".join(hub_urls or [hub.url]), "--credential", credential, "--engine", "sim", *extra_args], log_path
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


class PostgresServer:
    """A throwaway PostgreSQL (Debian's `postgresql`) on a free loopback port: `initdb` into a
    temporary directory as the `postgres` user (through `runuser` when the tests run as root),
    `fsync=off`, one database `porten`. `kill` (SIGKILL to the postmaster, as a crash) and `start`
    again keep the port and the data: an outage and its return."""

    BIN = next((d for d in ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin") if os.path.isdir(d)), "/usr/bin")

    def __init__(self):
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="porten-pg-")
        self.data = os.path.join(self.directory, "data")
        self.url = f"postgres://porten@127.0.0.1:{self.port}/porten"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-U", "porten", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
        self.process = None

    def _command(self, tool, *args):
        command = [os.path.join(self.BIN, tool), *args]
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def _run(self, tool, *args):
        subprocess.run(self._command(tool, *args), check=True, capture_output=True)

    def ready(self):
        return subprocess.run([os.path.join(self.BIN, "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"]).returncode == 0

    def start(self):
        log = os.path.join(self.directory, "postgres.log")
        self.process = Process(self._command(
            "postgres", "-D", self.data, "-p", str(self.port), "-k", self.directory, "-c", "listen_addresses=127.0.0.1",
            # fsync=off loses nothing when only the server crashes (the kernel keeps its writes);
            # synchronous_commit stays on, or a crash would lose the last commits the Hub was told of.
            "-c", "fsync=off", "-c", "full_page_writes=off"), log).start()
        wait_until(self.ready, timeout=30, what="postgres")
        created = subprocess.run([os.path.join(self.BIN, "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "porten", "-d", "postgres",
                                  "-tAc", "SELECT 1 FROM pg_database WHERE datname = 'porten'"], capture_output=True, text=True, check=True)
        if created.stdout.strip() != "1":
            subprocess.run([os.path.join(self.BIN, "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "porten", "porten"], check=True)
        return self

    def kill(self):
        """SIGKILL to the postmaster and its backends at once: a crash, no shutdown."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                postmaster = int(f.readline())
        except (OSError, ValueError):
            postmaster = None
        if postmaster:
            children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
            pids = [postmaster, *map(int, children)]
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

            def gone():
                for pid in pids:
                    try:
                        os.kill(pid, 0)
                        return False
                    except OSError:
                        pass
                return True

            wait_until(gone, what="postgres to die")
        if self.process:
            self.process.stop(sig_kill=True)

    def remove(self):
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


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
