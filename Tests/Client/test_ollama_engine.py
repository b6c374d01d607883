"""The `ollama` engine against a fake Ollama server. Ollama is not installable here, so this fake
speaks Ollama's documented HTTP API (GET /api/tags; POST /api/chat streamed as one JSON object per
line; POST /api/embed) and records what it was asked, so the translation can be checked."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
from openai import OpenAI

from porten_fleet import Hub, wait_until


class FakeOllama(BaseHTTPRequestHandler):
    pulled = ["llama3.2:3b", "deepseek-r1:latest", "nomic-embed-text:latest"]
    requests = []

    def do_GET(self):
        assert self.path == "/api/tags"
        self.reply(200, {"models": [{"name": name, "model": name, "size": 1} for name in self.pulled]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        FakeOllama.requests.append((self.path, body))
        if self.path == "/api/embed":
            return self.reply(200, {"model": body["model"], "embeddings": [[0.1, 0.2, 0.3] for _ in body["input"]], "prompt_eval_count": len(body["input"])})
        if body["model"] not in self.pulled:
            return self.reply(404, {"error": f"model '{body['model']}' not found"})
        last = body["messages"][-1]["content"]
        lines = []
        if body.get("think"):
            lines.append({"message": {"role": "assistant", "content": "", "thinking": "Pondering"}, "done": False})
        if body.get("tools") and "weather" in last:
            lines.append({"message": {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]}, "done": False})
        else:
            for word in ("Echo", ": ", last):
                lines.append({"message": {"role": "assistant", "content": word}, "done": False})
        lines.append({"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop", "prompt_eval_count": 7, "eval_count": 3})
        payload = b"".join(json.dumps({"model": body["model"], "created_at": "2026-11-25T00:00:00Z", **line}).encode() + b"\n" for line in lines)
        self.send_response(200)
        self.send_header("content-type", "application/x-ndjson")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def reply(self, status, obj):
        payload = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def ollama_fleet(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOllama)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hub = Hub(tmp_path, catalog={"models": [
        {"id": "llama3.2:3b", "type": "chat", "ctx": 8192, "capabilities": ["tools", "json"]},
        {"id": "deepseek-r1:latest", "type": "chat", "ctx": 8192, "capabilities": ["reasoning"]},
        {"id": "nomic-embed-text:latest", "type": "embedding", "ctx": 2048},
        {"id": "qwen3:8b", "type": "chat", "ctx": 8192},
    ]}).start()
    account = hub.admin("POST", "accounts", json={"name": "t"})["id"]
    client = OpenAI(base_url=hub.base_url, api_key=hub.create_key(account)["key"], max_retries=0, timeout=30)
    hub.add_node(account, tmp_path, name="ollama", engine="ollama", extra_args=(
        "--engine-url", f"http://127.0.0.1:{server.server_port}",
        "--models", "llama3.2:3b,deepseek-r1:latest,nomic-embed-text:latest,qwen3:8b")).start()
    yield client
    hub.stop()
    server.shutdown()


def test_ollama_models_chat_stream_reasoning_tools_and_embeddings(ollama_fleet):
    client = ollama_fleet
    wait_until(lambda: {m.id: m for m in client.models.list().data}["llama3.2:3b"].x_porten["ready"], what="the ollama node")
    ready = {m.id: m.x_porten["ready"] for m in client.models.list().data}
    assert ready == {"llama3.2:3b": True, "deepseek-r1:latest": True, "nomic-embed-text:latest": True, "qwen3:8b": False}  # not pulled
    answer = client.chat.completions.create(model="llama3.2:3b", temperature=0.2, max_tokens=9, messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Echo: hi" and answer.usage.prompt_tokens == 7 and answer.usage.completion_tokens == 3
    path, sent = FakeOllama.requests[-1]
    assert path == "/api/chat" and sent["stream"] is True and sent["options"] == {"temperature": 0.2, "num_predict": 9}
    chunks = list(client.chat.completions.create(model="llama3.2:3b", stream=True, messages=[{"role": "user", "content": "yo"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Echo: yo"
    thinking = client.chat.completions.create(model="deepseek-r1:latest", messages=[{"role": "user", "content": "why"}]).choices[0].message
    assert thinking.reasoning_content == "Pondering" and thinking.content == "Echo: why" and FakeOllama.requests[-1][1]["think"] is True
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
    called = client.chat.completions.create(model="llama3.2:3b", tools=[weather], messages=[{"role": "user", "content": "weather?"}]).choices[0]
    assert called.finish_reason == "tool_calls" and called.message.tool_calls[0].function.name == "get_weather"
    assert json.loads(called.message.tool_calls[0].function.arguments) == {"city": "Paris"}
    vectors = client.embeddings.create(model="nomic-embed-text:latest", input=["a", "b"])
    assert [round(x, 3) for x in vectors.data[1].embedding] == [0.1, 0.2, 0.3] and vectors.usage.prompt_tokens == 2
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="qwen3:8b", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.code == "no_available_node"
