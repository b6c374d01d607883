"""Replicas follow demand (issue #13, item 2; docs/planner.md): when a model's admission queue keeps
waiting past --replica-after, the Hub loads another replica on a provisionable node that may serve
the waiting requests, the queue drains on both, and the extra replica goes again through idle
eviction once demand stops."""
from concurrent.futures import ThreadPoolExecutor

import httpx

from porten_fleet import Hub, wait_until

PROVISIONABLE = ("--models", "", "--vram-budget-mb", "16000", "--concurrency", "2", "--token-delay-ms", "40", "--sim-download-mbps", "4000")
WORDS = "one two three four five six seven eight nine ten"


def hosts(hub, model):
    """Node ids with `model` ready."""
    return sorted(n["id"] for n in hub.fleet()["nodes"] if any(m["id"] == model and m["state"] == "ready" for m in n["models"]))


def test_sustained_queueing_loads_a_replica_that_idle_eviction_removes(tmp_path):
    hub = Hub(tmp_path, extra_args=("--replica-after", "1", "--demand-window", "8")).start()
    try:
        account = hub.admin("POST", "accounts", json={"name": "replicas"})["id"]
        key = hub.create_key(account)["key"]
        for name in ("a", "b"):
            hub.add_node(account, tmp_path, name=name, extra_args=PROVISIONABLE).start()

        def chat(i):
            response = httpx.post(hub.base_url + "/chat/completions", timeout=120, headers={"Authorization": f"Bearer {key}"},
                                  json={"model": "ref-chat", "messages": [{"role": "user", "content": f"{WORDS} {i}"}]})
            return response.status_code, response.json()["choices"][0]["message"]["content"], response.headers.get("x-porten-node")

        assert chat(0)[0] == 200  # a cold load on one node
        (first,) = hosts(hub, "ref-chat")
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(chat, range(1, 17)))
        assert [a[:2] for a in answers] == [(200, f"Echo: {WORDS} {i}") for i in range(1, 17)]
        # The queue waited more than a second on a node of two slots: a replica came up and served.
        replicas = hosts(hub, "ref-chat")
        assert len(replicas) == 2, hub.fleet()
        assert len({a[2] for a in answers}) == 2, [a[2] for a in answers]
        metrics = httpx.get(hub.url + "/metrics", headers={"Authorization": f"Bearer {hub.admin_token}"}).text
        assert 'porten_replicas_started_total{model="ref-chat"} 1' in metrics, [l for l in metrics.splitlines() if "replica" in l]
        # Demand stops: after a whole demand window idle, the replicas are unloaded again.
        wait_until(lambda: hosts(hub, "ref-chat") == [], timeout=20)
    finally:
        hub.stop()


def test_without_pressure_no_replica_is_loaded(tmp_path):
    hub = Hub(tmp_path, extra_args=("--replica-after", "30")).start()
    try:
        account = hub.admin("POST", "accounts", json={"name": "replicas"})["id"]
        key = hub.create_key(account)["key"]
        for name in ("a", "b"):
            hub.add_node(account, tmp_path, name=name, extra_args=PROVISIONABLE).start()
        headers = {"Authorization": f"Bearer {key}"}

        def chat(i):
            return httpx.post(hub.base_url + "/chat/completions", timeout=120, headers=headers,
                              json={"model": "ref-chat", "messages": [{"role": "user", "content": f"{WORDS} {i}"}]}).status_code

        assert chat(0) == 200
        with ThreadPoolExecutor(6) as pool:
            assert list(pool.map(chat, range(6))) == [200] * 6
        assert len(hosts(hub, "ref-chat")) == 1, hub.fleet()
    finally:
        hub.stop()
