"""A streamed request for a cold model commits 200 after --stream-keepalive-after and sends SSE
comments (`: porten warming <phase> <pct>%`) until the first chunk, so proxies keep the
connection; the official SDK reads the stream as usual; a failure after that is an in-stream
error."""
import json
import time

import httpx
import pytest
from openai import OpenAI

from porten_fleet import Hub, wait_until


@pytest.fixture
def slow_cold_fleet(tmp_path):
    hub = Hub(tmp_path, extra_args=("--stream-keepalive-after", "1", "--stream-keepalive-interval", "0.5")).start()
    try:
        account = hub.admin("POST", "accounts", json={"name": "k"})["id"]
        hub.key = hub.create_key(account)["key"]
        # ref-large: 3072 MB at 800 MB/s, then 6144 MB at 2000 MB/s: about 7 s cold.
        hub.add_node(account, tmp_path, extra_args=("--models", "ref-chat", "--vram-budget-mb", "8192", "--sim-download-mbps", "800",
                                                    "--sim-load-mbps", "2000")).start()
        yield hub
    finally:
        hub.stop()


def test_keep_alive_comments_then_the_answer(slow_cold_fleet):
    hub = slow_cold_fleet
    started = time.monotonic()
    with httpx.stream("POST", f"{hub.base_url}/chat/completions", headers={"Authorization": f"Bearer {hub.key}"},
                      json={"model": "ref-large", "stream": True, "messages": [{"role": "user", "content": "Hello there"}]}, timeout=60) as response:
        headers_after = time.monotonic() - started
        assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream"
        lines = [line for line in response.iter_lines()]
    assert headers_after < 3, headers_after  # committed long before the ~7 s load ends
    comments = [line for line in lines if line.startswith(":")]
    assert len(comments) >= 4 and all(line.startswith(": porten ") for line in comments), comments
    assert any("warming downloading" in c for c in comments) and any("warming loading" in c for c in comments), comments
    assert comments[-1].startswith(": porten node node_") and comments[-1].endswith(" region eu"), comments[-1]
    first_data = next(i for i, line in enumerate(lines) if line.startswith("data:"))
    assert all(not line.startswith(":") for line in lines[first_data:])  # comments only before the first chunk
    chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: ") and line != "data: [DONE]"]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "Echo: Hello there"
    assert lines[-1] == "data: [DONE]" or lines[-2] == "data: [DONE]"


def test_the_official_sdk_reads_a_kept_alive_stream(slow_cold_fleet):
    hub = slow_cold_fleet
    client = OpenAI(base_url=hub.base_url, api_key=hub.key, max_retries=0, timeout=60)
    stream = client.chat.completions.create(model="ref-large", stream=True, messages=[{"role": "user", "content": "Hi SDK"}])
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Echo: Hi SDK"


def test_a_failure_after_the_keep_alive_is_an_in_stream_error(slow_cold_fleet):
    hub = slow_cold_fleet
    with httpx.stream("POST", f"{hub.base_url}/chat/completions",
                      headers={"Authorization": f"Bearer {hub.key}", "X-Porten-Warmup-Budget": "2"},
                      json={"model": "ref-large", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}, timeout=60) as response:
        assert response.status_code == 200
        lines = list(response.iter_lines())
    assert any(line.startswith(": porten warming") for line in lines)
    errors = [json.loads(line[6:]) for line in lines if line.startswith("data: {") and '"error"' in line]
    assert errors and errors[0]["error"]["code"] == "model_warming", lines
    # A request that is answered at once is not affected: errors before the keep-alive keep their
    # status, and are metered once.
    quick = httpx.post(f"{hub.base_url}/chat/completions", headers={"Authorization": f"Bearer {hub.key}"},
                       json={"model": "nope", "stream": True, "messages": [{"role": "user", "content": "Hi"}]})
    assert quick.status_code == 404
    refused = httpx.post(f"{hub.base_url}/chat/completions", headers={"Authorization": f"Bearer {hub.key}", "X-Porten-Warmup-Budget": "0"},
                         json={"model": "ref-vision", "stream": True, "messages": [{"role": "user", "content": "Hi"}]})
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "model_warming"
    time.sleep(0.5)
    rows = [r for r in hub.admin("GET", "usage?limit=1000")["data"] if r["request_id"] == refused.headers["x-request-id"]]
    assert len(rows) == 1 and rows[0]["status"] == 503, rows


def test_a_client_that_leaves_while_waiting_is_let_go(slow_cold_fleet):
    hub = slow_cold_fleet
    with httpx.stream("POST", f"{hub.base_url}/chat/completions", headers={"Authorization": f"Bearer {hub.key}"},
                      json={"model": "ref-large", "stream": True, "messages": [{"role": "user", "content": "bye"}]}, timeout=60) as response:
        request_id = response.headers["x-request-id"]
        for line in response.iter_lines():
            if line.startswith(": porten warming"):
                break
    deadline = time.monotonic() + 20
    row = None
    while time.monotonic() < deadline and row is None:
        row = next((r for r in hub.admin("GET", "usage?limit=100")["data"] if r["request_id"] == request_id), None)
        time.sleep(0.2)
    assert row and row["status"] == 499 and row["completion_tokens"] == 0, row
    # The Hub goes on serving; the load it started completes for the next request.
    client = OpenAI(base_url=hub.base_url, api_key=hub.key, max_retries=0, timeout=60)
    assert client.chat.completions.create(model="ref-large", messages=[{"role": "user", "content": "again"}]).choices[0].message.content


def test_a_node_slow_to_its_first_token_is_waited_for_past_the_keep_alive(tmp_path):
    # The request reached its node at once; the node's first token takes longer than the keep-alive
    # delay, so the Hub commits 200 and waits for it in the response body.
    hub = Hub(tmp_path, extra_args=("--stream-keepalive-after", "1", "--stream-keepalive-interval", "0.5")).start()
    try:
        account = hub.admin("POST", "accounts", json={"name": "k"})["id"]
        key = hub.create_key(account)["key"]
        hub.add_node(account, tmp_path, extra_args=("--token-delay-ms", "1800")).start()
        client = OpenAI(base_url=hub.base_url, api_key=key, max_retries=0, timeout=60)
        with client.chat.completions.with_streaming_response.create(
                model="ref-chat", stream=True, messages=[{"role": "user", "content": "slow"}]) as response:
            assert "x-porten-node" not in response.headers  # committed before the first token
            lines = list(response.iter_lines())
        comments = [line for line in lines if line.startswith(":")]
        # The node has the request: it is running, not queued.
        assert comments[0] == ": porten running" and comments[-1].startswith(": porten node node_"), comments
        chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "Echo: slow"
        wait_until(lambda: hub.fleet()["nodes"][0]["in_flight"] == 0, what="the slot to be given back")
    finally:
        hub.stop()
