"""Failover before the first byte and outlier ejection (issue #13, item 3): a node whose engine fails
every request never costs a client an error while another node its key may use can answer."""
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from porten_fleet import Hub, free_port, wait_until


class BrokenUpstream(BaseHTTPRequestHandler):
    """An OpenAI-compatible upstream that lists its model and fails every completion with a 500."""

    def do_GET(self):
        self.answer(200, {"object": "list", "data": [{"id": "ref-chat", "object": "model"}]})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.answer(500, {"error": {"message": "GPU on fire", "type": "server_error"}})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def two_nodes(tmp_path):
    upstream = ThreadingHTTPServer(("127.0.0.1", free_port()), BrokenUpstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    hub = Hub(tmp_path).start()
    try:
        account = hub.admin("POST", "accounts", json={"name": "failover"})["id"]
        hub.key = hub.create_key(account)["key"]
        hub.upstream_url = f"http://127.0.0.1:{upstream.server_address[1]}/v1"
        hub.broken = hub.add_node(account, tmp_path, name="broken", engine="openai", extra_args=(
            "--engine-url", hub.upstream_url, "--models", "ref-chat"))
        hub.broken.start()
        hub.sim = hub.add_node(account, tmp_path, name="sim", extra_args=("--token-delay-ms", "20")).start()
        yield hub
    finally:
        hub.stop()
        upstream.shutdown()


def chat(hub, stream=False, content="ping"):
    return httpx.post(hub.base_url + "/chat/completions", headers={"Authorization": f"Bearer {hub.key}"}, timeout=60,
                      json={"model": "ref-chat", "stream": stream, "messages": [{"role": "user", "content": content}]})


def test_every_request_is_answered_by_the_healthy_node(two_nodes):
    hub = two_nodes
    # A long answer keeps the healthy node one request busier, so the planner (fewest in flight
    # first) always offers the broken node first while it is in rotation.
    background = ThreadPoolExecutor(1).submit(chat, hub, False, " ".join(["word"] * 600))
    wait_until(lambda: any(n["in_flight"] for n in hub.fleet()["nodes"]), what="the healthy node to be busy")
    ejections = []
    for stream in (False, True) * 10:
        response = chat(hub, stream)
        ejections.append({n["id"]: n["ejected_ms"] for n in hub.fleet()["nodes"]})
        assert response.status_code == 200 and response.headers["x-porten-node"] == hub.sim.id
        if stream:
            assert '"error"' not in response.text and "Echo: ping" in "".join(
                json.loads(line[6:])["choices"][0]["delta"].get("content") or "" for line in response.text.splitlines()
                if line.startswith("data: {"))
        else:
            assert response.json()["choices"][0]["message"]["content"] == "Echo: ping"
    assert background.result().status_code == 200
    rows = [r for r in hub.admin("GET", "usage?limit=50")["data"] if r["status"] == 200]
    assert len(rows) == 21 and all(r["node_id"] == hub.sim.id for r in rows)
    # The first requests went to the broken node first; then it was out of rotation but for probes.
    assert any(r["attempts"] == 2 for r in rows) and sum(r["attempts"] for r in rows) < 32
    # The operator sees it: the broken node out of rotation for ref-chat (between probes), never the healthy one.
    assert any("ref-chat" in e[hub.broken.id] for e in ejections) and all(e[hub.sim.id] == {} for e in ejections)


def test_with_only_the_broken_node_the_client_gets_a_clean_502(two_nodes):
    hub = two_nodes
    hub.sim.process.stop()
    hub.sim.wait_disconnected()
    response = chat(hub)
    assert response.status_code == 502 and response.json()["error"]["code"] == "node_error"
    # The node's upstream address and its words stay in the node's log.
    assert "127.0.0.1" not in response.text and "GPU on fire" not in response.text
    wait_until(lambda: "GPU on fire" in hub.broken.process.log(), what="the node to log the upstream's answer")
