"""Models on demand with real processes: a Hub and provisionable sim nodes that simulate downloads
and loads. Sizes and speeds are chosen so a cold load takes about a second."""
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from openai import OpenAI

from porten_fleet import Hub, wait_until

# download 2000 MB/s, load 4000 MB/s: cold-a is 0.5 s of download + 0.75 s of loading.
CATALOG = {
    "models": [
        {"id": "ref-chat", "type": "chat", "ctx": 8192, "vram_mb": 0},
        {"id": "cold-a", "type": "chat", "ctx": 8192, "vram_mb": 3000, "disk_mb": 1000},
        {"id": "cold-b", "type": "chat", "ctx": 8192, "vram_mb": 3000, "disk_mb": 1000},
        {"id": "cold-big", "type": "chat", "ctx": 8192, "vram_mb": 5000, "disk_mb": 500},
        {"id": "slow", "type": "chat", "ctx": 8192, "vram_mb": 1000, "disk_mb": 30000},
        {"id": "broken", "type": "chat", "ctx": 8192, "vram_mb": 1000, "disk_mb": 2000, "download_ref": "sim:fail"},
    ]
}
PROVISIONABLE = ("--models", "", "--vram-budget-mb", "8000", "--sim-download-mbps", "2000", "--sim-load-mbps", "4000")


class OnDemandFleet:
    def __init__(self, tmp_path, hub_args=()):
        catalog = tmp_path / "catalog.json"
        catalog.write_text(json.dumps(CATALOG))
        self.tmp_path = tmp_path
        self.hub = Hub(tmp_path, extra_args=("--catalog", str(catalog), *hub_args)).start()
        self.account = self.hub.admin("POST", "accounts", json={"name": "test"})["id"]
        self.api_key = self.hub.create_key(self.account)["key"]
        self.client = OpenAI(base_url=self.hub.base_url, api_key=self.api_key, max_retries=0, timeout=60)

    def node(self, name, *args):
        return self.hub.add_node(self.account, self.tmp_path, name=name, extra_args=args).start()

    def post(self, model, budget=None, content="hi", headers=None):
        headers = {"Authorization": f"Bearer {self.api_key}", **(headers or {})}
        if budget is not None:
            headers["X-Porten-Warmup-Budget"] = str(budget)
        return httpx.post(
            self.hub.base_url + "/chat/completions", headers=headers, timeout=60,
            json={"model": model, "messages": [{"role": "user", "content": content}]},
        )

    def ask(self, model, content="hi"):
        return self.client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}])

    def ready(self, model):
        return {m.id: m for m in self.client.models.list().data}[model].x_porten["ready"]

    def hosted(self):
        """{node_id: {model: state}} from the admin fleet view."""
        return {n["id"]: {m["id"]: m["state"] for m in n["models"]} for n in self.hub.fleet()["nodes"]}


@pytest.fixture
def make_fleet(tmp_path):
    fleets = []

    def make(hub_args=()):
        fleets.append(OnDemandFleet(tmp_path, hub_args))
        return fleets[-1]

    yield make
    for fleet in fleets:
        fleet.hub.stop()


def load_count(node, model):
    return len(re.findall(rf"loading {re.escape(model)}\b", node.process.log()))


def test_cold_request_blocks_until_loaded_while_the_warming_endpoint_shows_progress(make_fleet):
    fleet = make_fleet()
    node = fleet.node("p", *PROVISIONABLE)
    assert not fleet.ready("cold-a")
    assert fleet.hub.warming("cold-a") == {"model": "cold-a", "ready": False, "phase": "cold", "done_mb": 0, "total_mb": 1000, "pct": 0}
    observed = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            observed.append(fleet.hub.warming("cold-a"))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    try:
        answer = fleet.ask("cold-a", "Hello cold")
    finally:
        done.set()
        watcher.join()
    assert answer.choices[0].message.content == "Echo: Hello cold"
    assert time.monotonic() - started >= 1.0  # 0.5 s of download + 0.75 s of loading, simulated
    phases = [status["phase"] for status in observed]
    order = ["cold", "downloading", "loading", "ready"]
    assert [phases[0]] != ["ready"]
    assert all(order.index(a) <= order.index(b) for a, b in zip(phases, phases[1:])), phases
    assert {"downloading", "loading"} <= set(phases)
    downloading = [s for s in observed if s["phase"] == "downloading"]
    assert [s["done_mb"] for s in downloading] == sorted(s["done_mb"] for s in downloading)
    assert all(s["total_mb"] == 1000 and s["pct"] == s["done_mb"] * 100 // 1000 and not s["ready"] for s in downloading)
    assert all(s["total_mb"] == 3000 for s in observed if s["phase"] == "loading")
    assert fleet.hub.warming("cold-a")["ready"] is True
    assert fleet.ready("cold-a")
    assert load_count(node, "cold-a") == 1
    assert fleet.ask("cold-a").choices[0].message.content == "Echo: hi"  # warm now: no second load
    assert load_count(node, "cold-a") == 1


def test_warming_endpoint_needs_no_key_and_rejects_unknown_models(make_fleet):
    fleet = make_fleet()
    missing = httpx.get(fleet.hub.url + "/public/v1/models/warming", params={"model": "nope"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    no_param = httpx.get(fleet.hub.url + "/public/v1/models/warming")
    assert no_param.status_code == 400 and no_param.json()["error"]["param"] == "model"


def test_twenty_concurrent_cold_requests_trigger_one_load_and_all_complete(make_fleet):
    fleet = make_fleet()
    node = fleet.node("p", *PROVISIONABLE, "--concurrency", "32")
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda i: fleet.ask("cold-a", f"n{i}"), range(20)))
    assert sorted(a.choices[0].message.content for a in answers) == sorted(f"Echo: n{i}" for i in range(20))
    assert load_count(node, "cold-a") == 1
    assert fleet.hub.fleet()["demand"]["cold-a"] == 20


def test_budget_zero_answers_model_warming_at_once_and_starts_the_load(make_fleet):
    fleet = make_fleet()
    fleet.node("p", *PROVISIONABLE)
    started = time.monotonic()
    response = fleet.post("cold-a", budget=0)
    assert time.monotonic() - started < 0.5
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "model_warming"
    assert response.json()["error"]["type"] == "service_unavailable"
    assert int(response.headers["retry-after"]) >= 1
    assert fleet.hub.warming("cold-a")["phase"] in ("downloading", "loading")
    wait_until(lambda: fleet.ready("cold-a"), timeout=10, what="the load started by the refused request")
    assert fleet.post("cold-a", budget=0).status_code == 200  # ready: no wait needed


def test_load_past_the_budget_gives_model_warming_with_an_estimated_retry_after(make_fleet):
    fleet = make_fleet(hub_args=("--warmup-budget", "1.5"))
    fleet.node("p", *PROVISIONABLE)
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as raised:  # 503: the SDK's class for 5xx
        fleet.ask("slow")
    assert 1.4 <= time.monotonic() - started < 5
    assert raised.value.status_code == 503 and raised.value.code == "model_warming"
    # 30000 MB at 2000 MB/s: about 13.5 s of download left, so the estimate is well above 1 s.
    assert int(raised.value.response.headers["retry-after"]) >= 10
    # A shorter budget asked by the client is honoured; a longer one is capped by the Hub's.
    started = time.monotonic()
    assert fleet.post("slow", budget=0.3).status_code == 503
    assert time.monotonic() - started < 1.2
    assert fleet.post("slow", budget="abc").status_code == 400


def test_a_failed_load_ends_waiting_requests_at_once_with_a_clear_error(make_fleet):
    fleet = make_fleet()
    fleet.node("p", *PROVISIONABLE)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=3) as pool:
        responses = list(pool.map(lambda _: fleet.post("broken"), range(3)))
    assert time.monotonic() - started < 3  # the simulated download fails after 0.5 s, not at the budget
    for response in responses:
        assert response.status_code == 502, response.text
        assert response.json()["error"]["code"] == "node_error"
        assert "simulated download failure" in response.json()["error"]["message"]
    assert not fleet.ready("broken")
    assert fleet.hub.warming("broken")["phase"] == "cold"
    assert fleet.ask("cold-a").choices[0].message.content == "Echo: hi"  # the node's VRAM was given back


def test_node_lost_during_a_load_sends_waiters_to_another_node(make_fleet):
    fleet = make_fleet()
    first = fleet.node("p1", *PROVISIONABLE[:-4], "--sim-download-mbps", "500", "--sim-load-mbps", "4000")
    second = fleet.node("p2", *PROVISIONABLE)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(fleet.ask, "cold-a", "survive")
        wait_until(lambda: any(fleet.hosted().values()), what="a load to start")
        loading_on = next(node_id for node_id, models in fleet.hosted().items() if models)
        victim = first if loading_on == first.id else second
        victim.process.stop(sig_kill=True)
        answer = pending.result(timeout=30)
    assert answer.choices[0].message.content == "Echo: survive"
    survivor = second if victim is first else first
    assert fleet.hosted() == {survivor.id: {"cold-a": "ready"}}


def test_a_load_evicts_the_lower_demand_model_never_one_in_flight(make_fleet):
    fleet = make_fleet()
    # Unloads take 300 ms, like a real server's stop: the node must finish them before the load
    # they make room for (a load that ran beside them found the VRAM still taken).
    fleet.node("p", *PROVISIONABLE, "--token-delay-ms", "20", "--sim-unload-ms", "300")
    for _ in range(3):
        fleet.ask("cold-a")
    fleet.ask("cold-b")
    assert set(fleet.hosted().popitem()[1]) == {"cold-a", "cold-b"}
    # cold-big (5000 MB) fits only if one 3000 MB model goes: cold-b has the lower demand.
    fleet.ask("cold-big")
    assert fleet.hosted().popitem()[1] == {"cold-a": "ready", "cold-big": "ready"}
    assert not fleet.ready("cold-b")
    # cold-b is wanted again, and cold-big (demand 1) is idle: it goes, cold-a (3) stays.
    fleet.ask("cold-b")
    assert fleet.hosted().popitem()[1] == {"cold-a": "ready", "cold-b": "ready"}
    # With cold-a and cold-b both busy streaming, cold-big cannot be placed: 503, nothing evicted.
    long = "word " * 100
    with ThreadPoolExecutor(max_workers=2) as pool:
        streams = [pool.submit(fleet.ask, model, long) for model in ("cold-a", "cold-b")]
        wait_until(lambda: fleet.hub.fleet()["nodes"][0]["in_flight"] == 2, what="both models busy")
        refused = fleet.post("cold-big")
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "no_available_node"
        assert int(refused.headers["retry-after"]) >= 1
        for stream in streams:
            assert stream.result().choices[0].finish_reason == "stop"
    assert fleet.hosted().popitem()[1] == {"cold-a": "ready", "cold-b": "ready"}


def test_a_load_the_hub_gave_up_on_while_it_waited_for_an_unload_is_called_off(make_fleet):
    fleet = make_fleet(hub_args=("--request-idle-timeout", "1"))
    node = fleet.node("p", *PROVISIONABLE, "--sim-unload-ms", "4000")
    for model in ("cold-a", "cold-a", "cold-b"):
        fleet.ask(model)
    # cold-big evicts cold-b, whose unload takes 4 s; its load waits for it, silent, and the Hub
    # gives up on it after 1 s (and unloads it).
    stalled = fleet.post("cold-big")
    assert stalled.status_code == 502 and "stalled" in stalled.json()["error"]["message"], stalled.text
    wait_until(lambda: "not loading cold-big" in node.process.log(), timeout=10, what="the node to call the load off")
    # The node holds what the Hub believes it holds: cold-b (3000 MB) fits beside cold-a again,
    # which it would not beside a cold-big the Hub forgot.
    fleet.ask("cold-b")
    assert fleet.hosted()[node.id] == {"cold-a": "ready", "cold-b": "ready"}
    assert "] loaded cold-big" not in node.process.log()


def test_idle_models_are_unloaded_after_the_demand_window_but_fixed_nodes_keep_theirs(make_fleet):
    fleet = make_fleet(hub_args=("--demand-window", "2"))
    fixed = fleet.node("fixed", "--models", "ref-chat")
    provisionable = fleet.node("p", *PROVISIONABLE)
    fleet.ask("cold-a")
    fleet.ask("ref-chat")
    loaded_at = time.monotonic()
    assert fleet.ready("cold-a")
    wait_until(lambda: not fleet.ready("cold-a"), timeout=6, what="idle eviction")
    assert time.monotonic() - loaded_at >= 1.8
    assert fleet.hub.warming("cold-a")["phase"] == "cold"
    wait_until(lambda: "unloaded cold-a" in provisionable.process.log(), what="the node to unload")
    assert fleet.ready("ref-chat")  # the fixed node's model is never idle-evicted
    assert fleet.hosted()[fixed.id] == {"ref-chat": "ready"}
    # Weights stay on disk: the reload skips the download.
    assert "cold-a" in next(n for n in fleet.hub.fleet()["nodes"] if n["id"] == provisionable.id)["on_disk"]
    fleet.ask("cold-a")
    assert provisionable.process.log().count("loading cold-a") == 2


def test_saturated_nodes_queue_or_answer_no_available_node_with_retry_after(make_fleet):
    fleet = make_fleet()
    fleet.node("fixed", "--models", "ref-chat", "--concurrency", "1", "--token-delay-ms", "20")
    with ThreadPoolExecutor(max_workers=2) as pool:
        busy = pool.submit(fleet.ask, "ref-chat", "word " * 50)
        wait_until(lambda: fleet.hub.fleet()["nodes"][0]["in_flight"] == 1, what="the only slot to be taken")
        # A client that will not wait for a slot is told at once when to come back…
        refused = fleet.post("ref-chat", headers={"X-Porten-Queue-Budget": "0"})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "no_available_node"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # …one that may wait is served when the slot frees (the admission queue).
        queued = pool.submit(fleet.post, "ref-chat")
        assert busy.result().choices[0].finish_reason == "stop"
        assert queued.result().status_code == 200
