"""The admission queue (issue #13, item 1; docs/planner.md): when every node serving a model is busy,
requests wait for a slot, fairly across keys, within a queue budget, and leave when their client does."""
import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from openai import AsyncOpenAI

from porten_fleet import Hub, wait_until


class BusyFleet:
    """A Hub with one sim node of small concurrency, slow enough per token to fill it."""

    def __init__(self, tmp_path, concurrency, token_delay_ms, hub_args=()):
        self.hub = Hub(tmp_path, extra_args=hub_args).start()
        self.account = self.hub.admin("POST", "accounts", json={"name": "queue"})["id"]
        self.keys = {name: self.hub.create_key(self.account)["key"] for name in ("a", "b")}
        self.hub.add_node(self.account, tmp_path, extra_args=("--concurrency", str(concurrency), "--token-delay-ms", str(token_delay_ms))).start()

    def chat(self, key="a", content="one two three four", headers=None, timeout=60):
        return httpx.post(self.hub.base_url + "/chat/completions", timeout=timeout,
                          headers={"Authorization": f"Bearer {self.keys[key]}", **(headers or {})},
                          json={"model": "ref-chat", "messages": [{"role": "user", "content": content}]})

    def queue(self):
        return self.hub.fleet()["queues"].get("ref-chat", {"depth": 0, "longest_wait_ms": 0})

    def in_flight(self):
        return self.hub.fleet()["nodes"][0]["in_flight"]


@pytest.fixture
def busy(tmp_path, request):
    concurrency, delay, *hub_args = request.param
    fleet = BusyFleet(tmp_path, concurrency, delay, hub_args)
    try:
        yield fleet
    finally:
        fleet.hub.stop()


@pytest.mark.parametrize("busy", [(4, 20)], indirect=True)
def test_fifty_concurrent_sdk_requests_all_succeed_on_a_node_of_four(busy):
    async def run():
        client = AsyncOpenAI(base_url=busy.hub.base_url, api_key=busy.keys["a"], max_retries=0, timeout=120)
        answers = await asyncio.gather(*[
            client.chat.completions.create(model="ref-chat", messages=[{"role": "user", "content": f"ping {i}"}]) for i in range(50)])
        await client.close()
        return answers

    answers = asyncio.run(run())
    assert [a.choices[0].message.content for a in answers] == [f"Echo: ping {i}" for i in range(50)]
    assert busy.queue()["depth"] == 0 and busy.in_flight() == 0


@pytest.mark.parametrize("busy", [(1, 40)], indirect=True)
def test_one_keys_burst_does_not_starve_another(busy):
    finished = []
    lock = threading.Lock()

    def ask(key, index):
        assert busy.chat(key).status_code == 200
        with lock:
            finished.append((key, index))

    with ThreadPoolExecutor(10) as pool:
        burst = [pool.submit(ask, "a", i) for i in range(8)]
        wait_until(lambda: busy.queue()["depth"] >= 6, what="key a's burst to queue")
        late = pool.submit(ask, "b", 0)
        for future in burst + [late]:
            future.result()
    # b queued behind six or seven of a's requests; first in, first out would serve it ninth. Fair
    # turns serve it after at most one more of a's than were running or granted when it arrived.
    assert finished.index(("b", 0)) <= 3, finished


@pytest.mark.parametrize("busy", [(1, 100)], indirect=True)
def test_the_queue_budget_ends_a_wait_with_503_and_retry_after(busy):
    with ThreadPoolExecutor(2) as pool:
        long = pool.submit(busy.chat, "a", " ".join(["word"] * 40))
        wait_until(lambda: busy.in_flight() == 1, what="the node to be busy")
        started = time.monotonic()
        refused = busy.chat("b", headers={"X-Porten-Queue-Budget": "0.3"})
        waited = time.monotonic() - started
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "no_available_node"
        assert 0.3 <= waited < 3 and 1 <= int(refused.headers["retry-after"]) <= 60
        assert "busy" in refused.json()["error"]["message"]
        assert busy.chat("b", headers={"X-Porten-Queue-Budget": "nope"}).status_code == 400
        assert long.result().status_code == 200


@pytest.mark.parametrize("busy", [(1, 100)], indirect=True)
def test_a_key_revoked_while_its_request_waits_is_refused_when_a_slot_frees(busy):
    created = busy.hub.create_key(busy.account)
    busy.keys["revoked"] = created["key"]
    with ThreadPoolExecutor(2) as pool:
        long = pool.submit(busy.chat, "a", " ".join(["word"] * 15))
        wait_until(lambda: busy.in_flight() == 1, what="the node to be busy")
        queued = pool.submit(busy.chat, "revoked")
        wait_until(lambda: busy.queue()["depth"] == 1, what="the request to queue")
        busy.hub.admin("DELETE", f"keys/{created['id']}")
        assert long.result().status_code == 200
        refused = queued.result()
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key", refused.text
    assert "while the request waited" in refused.json()["error"]["message"]
    # It never reached the node, and its slot went back.
    wait_until(lambda: busy.in_flight() == 0, what="the slot to be free")
    assert busy.chat("b", content="after").status_code == 200


@pytest.mark.parametrize("busy", [(1, 100)], indirect=True)
def test_a_client_that_leaves_leaves_the_queue(busy):
    with ThreadPoolExecutor(2) as pool:
        long = pool.submit(busy.chat, "a", " ".join(["word"] * 20))
        wait_until(lambda: busy.in_flight() == 1, what="the node to be busy")
        with pytest.raises(httpx.TimeoutException):
            busy.chat("b", timeout=0.5)
        wait_until(lambda: busy.queue()["depth"] == 0, timeout=5, what="the abandoned request to leave the queue")
        assert long.result().status_code == 200
    # The slot was not handed to the client that left: the next request is served at once.
    wait_until(lambda: busy.in_flight() == 0, what="the slot to be free")
    assert busy.chat("b", content="after").json()["choices"][0]["message"]["content"] == "Echo: after"


@pytest.mark.parametrize("busy", [(1, 100, "--queue-length", "2")], indirect=True)
def test_a_full_queue_refuses_at_once_and_fleet_shows_it(busy):
    with ThreadPoolExecutor(4) as pool:
        long = pool.submit(busy.chat, "a", " ".join(["word"] * 30))
        wait_until(lambda: busy.in_flight() == 1, what="the node to be busy")
        queued = [pool.submit(busy.chat, "a") for _ in range(2)]
        wait_until(lambda: busy.queue()["depth"] == 2, what="two requests to queue")
        assert busy.queue()["longest_wait_ms"] >= 0
        started = time.monotonic()
        refused = busy.chat("b")
        assert refused.status_code == 503 and time.monotonic() - started < 1
        assert "already waiting" in refused.json()["error"]["message"]
        assert all(f.result().status_code == 200 for f in queued + [long])


KEEP_ALIVE = ("--stream-keepalive-after", "1", "--stream-keepalive-interval", "0.5")


def open_stream(fleet, key="a", content="streamed"):
    return httpx.stream("POST", fleet.hub.base_url + "/chat/completions", timeout=60,
                        headers={"Authorization": f"Bearer {fleet.keys[key]}"},
                        json={"model": "ref-chat", "stream": True, "messages": [{"role": "user", "content": content}]})


@pytest.mark.parametrize("busy", [(1, 100, *KEEP_ALIVE)], indirect=True)
def test_a_stream_queued_past_its_keep_alive_keeps_its_place(busy):
    # The Hub answers 200 while the request still waits in the queue, and goes on waiting in the
    # response body: its place is kept, so a request queued after it is served after it.
    with ThreadPoolExecutor(2) as pool:
        long = pool.submit(busy.chat, "a", " ".join(["word"] * 30))
        wait_until(lambda: busy.in_flight() == 1, what="the node to be busy")
        with open_stream(busy) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            assert next(lines) == ": porten queued"
            later = pool.submit(busy.chat, "a", "later")
            wait_until(lambda: busy.queue()["depth"] == 2, what="a second request to queue behind the stream")
            rest = list(lines)
            assert not later.done(), "the request queued later was served first"
        comments = [line for line in rest if line.startswith(":")]
        assert comments[-1].startswith(": porten node node_"), comments
        chunks = [json.loads(line[6:]) for line in rest if line.startswith("data: {")]
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "Echo: streamed"
        assert long.result().status_code == 200 and later.result().status_code == 200


@pytest.mark.parametrize("busy", [(1, 100, *KEEP_ALIVE)], indirect=True)
def test_a_stream_that_leaves_the_queue_after_its_keep_alive_gives_its_place_back(busy):
    with ThreadPoolExecutor(1) as pool:
        long = pool.submit(busy.chat, "a", " ".join(["word"] * 20))
        wait_until(lambda: busy.in_flight() == 1, what="the node to be busy")
        with open_stream(busy, "b") as response:
            request_id = response.headers["x-request-id"]
            assert next(response.iter_lines()) == ": porten queued"
        wait_until(lambda: busy.queue()["depth"] == 0, timeout=5, what="the stream to leave the queue")
        assert long.result().status_code == 200
    wait_until(lambda: busy.in_flight() == 0, what="the slot to be free")
    assert busy.chat("b", content="after").json()["choices"][0]["message"]["content"] == "Echo: after"
    rows = [r for r in busy.hub.admin("GET", "usage?limit=100")["data"] if r["request_id"] == request_id]
    assert len(rows) == 1 and rows[0]["status"] == 499, rows
