"""Node and Hub failures: a dead node means 503 no_available_node, and everything recovers."""
import httpx
import openai
import pytest

from porten_fleet import wait_until


def chat(client):
    return client.chat.completions.create(model="ref-chat", messages=[{"role": "user", "content": "ping"}])


def test_killed_node_gives_503_then_recovers(fleet, client):
    assert chat(client).choices[0].message.content == "Echo: ping"
    fleet.node.process.stop(sig_kill=True)
    fleet.node.wait_disconnected()
    assert not {m.id: m for m in client.models.list().data}["ref-chat"].x_porten["ready"]
    response = httpx.post(
        fleet.base_url + "/chat/completions", headers={"Authorization": f"Bearer {fleet.api_key}"},
        json={"model": "ref-chat", "messages": [{"role": "user", "content": "ping"}]},
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "no_available_node"
    assert int(response.headers["retry-after"]) >= 1
    with pytest.raises(openai.InternalServerError):
        chat(client)
    fleet.node.start()
    assert chat(client).choices[0].message.content == "Echo: ping"


def test_node_reconnects_after_hub_restart(fleet, client):
    fleet.process.stop()
    fleet.process.start()
    wait_until(fleet.healthy, what="hub to restart")
    fleet.node.wait_connected(timeout=20)
    assert chat(client).choices[0].message.content == "Echo: ping"  # keys survive the restart (SQLite)


def test_usage_rows_record_metadata_not_content(fleet, client):
    chat(client)
    rows = fleet.admin("GET", "usage?limit=1")["data"]
    row = rows[0]
    assert row["model"] == "ref-chat" and row["node_id"] == fleet.node.id and row["status"] == 200
    assert row["prompt_tokens"] == 4 and row["completion_tokens"] == 3
    assert row["region"] == "eu" and row["latency_ms"] >= 0 and row["ttft_ms"] is not None
    assert "ping" not in str(row)


def test_node_dying_mid_stream_ends_the_stream_with_an_error_event(fleet, client):
    long_prompt = " ".join(f"w{i}" for i in range(2000))
    with httpx.stream(
        "POST", fleet.base_url + "/chat/completions", headers={"Authorization": f"Bearer {fleet.api_key}"},
        json={"model": "ref-chat", "stream": True, "messages": [{"role": "user", "content": long_prompt}]}, timeout=20,
    ) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines).startswith("data: {")
        fleet.node.process.stop(sig_kill=True)
        rest = [line for line in lines if line]
    assert rest[-1] == "data: [DONE]"
    assert rest[-2].startswith('data: {"error":')
    assert '"code":"node_error"' in rest[-2]
    # and with the node gone, new requests are refused instead of hanging
    with pytest.raises(openai.InternalServerError):
        chat(client)


def test_revoking_a_node_disconnects_it_and_keeps_it_out(fleet, client):
    fleet.admin("DELETE", f"nodes/{fleet.node.id}")
    fleet.node.wait_disconnected()
    response = httpx.post(
        fleet.base_url + "/chat/completions", headers={"Authorization": f"Bearer {fleet.api_key}"},
        json={"model": "ref-chat", "messages": [{"role": "user", "content": "ping"}]},
    )
    assert response.status_code == 503 and response.json()["error"]["code"] == "no_available_node"
    # the agent keeps retrying with backoff, and the Hub keeps refusing its credential
    refused = httpx.get(fleet.url + "/node/v1/connect", headers={"Authorization": f"Bearer {fleet.node.credential}"})
    assert refused.status_code == 401
    assert not fleet.node_status(fleet.node.id)["connected"]


def test_sigterm_is_a_clean_shutdown_for_node_and_hub(fleet):
    assert fleet.node.process.stop() == 0
    assert fleet.process.stop() == 0
    assert "Error" not in fleet.process.log() and "Error" not in fleet.node.process.log()
