"""Hub replicas sharing one Postgres and one Redis (issue #17; docs/self-host.md): what one replica
writes the other sees; a key's rate limit counts across the replicas, exactly; when Redis goes away
each replica keeps enforcing the limit on its own count (logged, `porten_redis_up` 0, `rate_limits:
per_replica`) and the shared count returns with Redis; when Postgres goes away requests get a
clear 503 in bounded time, and service returns with it."""
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import time

from porten_fleet import Hub, Node, PostgresServer, RedisServer, wait_until


class Shared:
    """One Redis and one Postgres for a test's replicas; the `shared` fixture stops what the test
    started on them (`hubs`, with their nodes, and other `processes`) and then them."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.hubs = []
        self.processes = []
        self.redis = RedisServer(tmp_path).start()
        try:
            self.postgres = PostgresServer().start()
        except BaseException:
            self.redis.kill()
            raise

    def hub_args(self):
        return ("--redis-url", self.redis.url, "--database-url", self.postgres.url)


@pytest.fixture
def shared(tmp_path):
    state = Shared(tmp_path)
    try:
        yield state
    finally:
        for process in state.processes:
            process.stop()
        for hub in state.hubs:
            hub.stop()
        state.redis.kill()
        state.postgres.remove()


def replicas(shared):
    """Two Hubs on one Postgres and one Redis, each with a sim node of its own."""
    tmp_path = shared.tmp_path
    token = "padm-replicas-0123456789abcdef"
    hubs = [Hub(tmp_path, extra_args=shared.hub_args(), name=f"hub-{name}",
                data_dir=str(tmp_path / f"data-{name}"), admin_token=token) for name in "ab"]
    shared.hubs.extend(hubs)
    hubs[0].start()
    hubs[1].start()
    account = hubs[0].admin("POST", "accounts", json={"name": "replicas"})["id"]
    for index, hub in enumerate(hubs):
        created = hubs[0].admin("POST", "nodes", json={"account_id": account, "name": f"sim-{index}", "region": "eu", "trust_class": "verified"})
        node = Node(hub, created["id"], created["credential"], str(tmp_path / f"node-{index}.log"), ("--token-delay-ms", "1"))
        hub.nodes.append(node)
        node.start()
    return hubs, account


def key_with_limit(hub, account, requests_per_minute):
    return hub.admin("POST", "keys", json={"account_id": account, "name": "limited", "requests_per_minute": requests_per_minute})["key"]


def burst(hubs, key, count):
    """`count` chat requests at once, alternating between the replicas; their statuses per replica."""
    def chat(index):
        hub = hubs[index % len(hubs)]
        response = httpx.post(hub.base_url + "/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                              json={"model": "ref-chat", "messages": [{"role": "user", "content": f"hello {index}"}]})
        if response.status_code == 429:
            assert response.json()["error"]["code"] == "rate_limit_exceeded" and int(response.headers["retry-after"]) >= 1
        return index % len(hubs), response.status_code

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(chat, range(count)))
    return [[status for replica, status in results if replica == r] for r in range(len(hubs))]


def metric(hub, name):
    text = httpx.get(hub.url + "/metrics", headers={"Authorization": f"Bearer {hub.admin_token}"}).text
    return [line for line in text.splitlines() if line.startswith(name)]


def chat(hub, key, content="hello", model="ref-chat"):
    return httpx.post(hub.base_url + "/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=60,
                      json={"model": model, "messages": [{"role": "user", "content": content}]})


def test_what_one_replica_writes_the_other_serves(shared):
    hubs, account = replicas(shared)
    # Nodes added through replica a connected to b; a key made on a works on b at once.
    for hub in hubs:
        hub.nodes[0].wait_connected()
    key = hubs[0].admin("POST", "keys", json={"account_id": account, "name": "shared"})
    answer = chat(hubs[1], key["key"])
    assert answer.status_code == 200 and answer.headers["x-porten-node"] == hubs[1].nodes[0].id
    # Usage metered on b is in the shared ledger a reads.
    wait_until(lambda: any(row["request_id"] == answer.headers["x-request-id"]
                           for row in hubs[0].admin("GET", "usage?limit=10")["data"]), what="b's usage row on a")
    # A key revoked on a stops on b within the key cache's second.
    hubs[0].admin("DELETE", f"keys/{key['id']}")
    revoked = time.monotonic()
    wait_until(lambda: chat(hubs[1], key["key"]).status_code == 401, timeout=5, what="the revoked key to stop on b")
    assert time.monotonic() - revoked < 4  # the cache holds a key for 1 s; room for a loaded machine
    assert chat(hubs[0], key["key"]).status_code == 401  # at once on the replica that revoked it
    # A node tunnelled to b, moved out of the EU through a: b drops its tunnel within seconds and
    # routes an EU-pinned key to it no more (fail closed); the node comes back as a US node.
    node_b = hubs[1].nodes[0]
    eu = hubs[0].admin("POST", "keys", json={"account_id": account, "name": "eu", "allowed_regions": ["eu"]})["key"]
    assert chat(hubs[1], eu).headers.get("x-porten-node") == node_b.id
    hubs[0].admin("PATCH", f"nodes/{node_b.id}", json={"region": "us"})
    wait_until(lambda: chat(hubs[1], eu).status_code == 503, timeout=15, what="b to stop routing EU keys to the moved node")
    wait_until(lambda: hubs[1].node_status(node_b.id)["connected"], timeout=15, what="the node to reconnect to b")
    assert chat(hubs[1], eu).status_code == 503
    # Revoked through a: b disconnects it, and it stays out.
    hubs[0].admin("DELETE", f"nodes/{node_b.id}")
    wait_until(lambda: not hubs[1].node_status(node_b.id)["connected"], timeout=15, what="b to drop the revoked node")
    time.sleep(1)
    assert not hubs[1].node_status(node_b.id)["connected"]


def test_a_postgres_outage_is_a_clear_503_and_service_returns_with_it(shared):
    hubs, account = replicas(shared)
    key = hubs[0].admin("POST", "keys", json={"account_id": account, "name": "outage"})["key"]
    assert chat(hubs[0], key).status_code == 200
    shared.postgres.kill()
    for hub in hubs:
        for attempt in range(3):
            started = time.monotonic()
            response = chat(hub, key, f"while postgres is down {attempt}")
            elapsed = time.monotonic() - started
            # Never an answer that was not metered, never a hang, never a 500: 503 with a reason.
            assert response.status_code == 503, (response.status_code, response.text)
            error = response.json()["error"]
            assert error["code"] in ("store_unavailable", "usage_unavailable"), error
            assert "unavailable" in error["message"] or "could not record" in error["message"], error
            assert elapsed < 15, elapsed
        listing = httpx.get(hub.url + "/admin/v1/keys", headers={"Authorization": f"Bearer {hub.admin_token}"}, timeout=30)
        assert listing.status_code == 503 and listing.json()["error"]["code"] == "store_unavailable", listing.text
        assert hub.healthy()  # the process is up; only what needs the database waits for it
    shared.postgres.start()
    for hub in hubs:
        # The connection pool retries with a growing backoff (capped at a minute by postgres-nio).
        wait_until(lambda: chat(hub, key, "after the outage").status_code == 200, timeout=90, interval=0.5,
                   what="service to return with postgres")


def test_a_replica_killed_mid_traffic_hands_its_nodes_to_another(shared, tmp_path):
    token = "padm-replicas-0123456789abcdef"
    hubs = [Hub(tmp_path, extra_args=shared.hub_args(), name=f"hub-{name}",
                data_dir=str(tmp_path / f"data-{name}"), admin_token=token) for name in "ab"]
    shared.hubs.extend(hubs)
    for hub in hubs:
        hub.start()
    account = hubs[0].admin("POST", "accounts", json={"name": "failover"})["id"]
    created = hubs[0].admin("POST", "nodes", json={"account_id": account, "name": "roaming", "region": "eu", "trust_class": "verified"})
    # One agent, told about both replicas: it connects to one of them (agents spread at random).
    node = Node(hubs[0], created["id"], created["credential"], str(tmp_path / "node.log"), ("--token-delay-ms", "50"),
                hub_urls=[hubs[0].url, hubs[1].url])
    shared.processes.append(node.process)
    node.process.start()
    wait_until(lambda: any(hub.node_status(created["id"])["connected"] for hub in hubs), what="the node to connect")
    first, other = (hubs[0], hubs[1]) if hubs[0].node_status(created["id"])["connected"] else (hubs[1], hubs[0])
    key = hubs[0].admin("POST", "keys", json={"account_id": account, "name": "failover"})["key"]
    assert chat(first, key).status_code == 200

    outcome = {}

    def stream_on_first():
        try:
            with httpx.stream("POST", first.base_url + "/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                              json={"model": "ref-chat", "stream": True, "max_tokens": 400,
                                    "messages": [{"role": "user", "content": "a long answer"}]}) as response:
                for line in response.iter_lines():
                    if line.startswith("data: {"):
                        outcome["chunks"] = outcome.get("chunks", 0) + 1
                outcome["ended"] = "cleanly"
        except httpx.HTTPError as error:
            outcome["ended"] = type(error).__name__

    with ThreadPoolExecutor(1) as pool:
        streaming = pool.submit(stream_on_first)
        wait_until(lambda: outcome.get("chunks", 0) >= 3, what="the stream to be under way")
        killed = time.monotonic()
        first.process.stop(sig_kill=True)
        streaming.result(timeout=15)
    # The request in flight on the dead replica fails as a broken connection, at once: no hang,
    # and no stream that pretends to have finished.
    assert outcome["ended"] != "cleanly" and time.monotonic() - killed < 10, outcome
    # The node is on the other replica within seconds, and requests through it reach the node.
    node.hub = other
    node.wait_connected(timeout=10)
    answer = chat(other, key, "after the failover")
    assert answer.status_code == 200 and answer.headers["x-porten-node"] == created["id"]
    assert "tunnel failed" in node.process.log() or "tunnel closed" in node.process.log()


def test_a_burst_across_replicas_is_admitted_exactly_to_the_keys_limit(shared):
    hubs, account = replicas(shared)
    key = key_with_limit(hubs[0], account, 10)
    per_replica = burst(hubs, key, 30)
    statuses = per_replica[0] + per_replica[1]
    assert statuses.count(200) == 10 and statuses.count(429) == 20, per_replica
    assert all(200 in statuses for statuses in per_replica), per_replica  # both replicas served a share
    for hub in hubs:
        assert hub.fleet()["rate_limits"] == "shared"
        assert metric(hub, "porten_redis_up") == ["porten_redis_up 1.0"]


def test_without_redis_each_replica_enforces_the_limit_alone_until_redis_returns(shared):
    hubs, account = replicas(shared)
    shared.redis.kill()
    key = key_with_limit(hubs[0], account, 3)
    # Redis is gone: never unlimited, never refused for it; each replica counts its own 3.
    per_replica = burst(hubs, key, 10)
    assert [statuses.count(200) for statuses in per_replica] == [3, 3], per_replica
    for hub in hubs:
        assert hub.fleet()["rate_limits"] == "per_replica"
        assert metric(hub, "porten_redis_up") == ["porten_redis_up 0.0"]
        assert "rate limits fall back to each replica's own count" in hub.process.log()
    # Redis is back (empty): the clients reconnect and the replicas count together again.
    shared.redis.start()
    fresh = key_with_limit(hubs[0], account, 4)

    def shared_again():
        burst(hubs, key_with_limit(hubs[0], account, 100), 2)
        return all(hub.fleet()["rate_limits"] == "shared" for hub in hubs)

    wait_until(shared_again, timeout=30, interval=0.5, what="the replicas to share Redis again")
    per_replica = burst(hubs, fresh, 12)
    assert (per_replica[0] + per_replica[1]).count(200) == 4, per_replica


def forwarding_replicas(shared):
    """Two Hubs on one Postgres and one Redis that forward to each other's nodes (--replica-token)."""
    token = "padm-replicas-0123456789abcdef"
    hubs = shared.hubs
    for name in "ab":
        hub = Hub(shared.tmp_path, (*shared.hub_args(), "--replica-token", "replica-secret-0123456789"), name=f"hub-{name}",
                  data_dir=str(shared.tmp_path / f"data-{name}"), admin_token=token)
        hubs.append(hub)
        hub.start()
    account = hubs[0].admin("POST", "accounts", json={"name": "forwarding"})["id"]
    return hubs, account


def attach(hubs, hub, account, tmp_path, name, region, extra_args=()):
    created = hubs[0].admin("POST", "nodes", json={"account_id": account, "name": name, "region": region, "trust_class": "verified"})
    node = Node(hub, created["id"], created["credential"], str(tmp_path / f"{name}.log"), ("--token-delay-ms", "1", *extra_args))
    hub.nodes.append(node)
    node.start()
    return created["id"]


def test_a_request_reaches_a_node_tunnelled_to_the_other_replica(shared, tmp_path):
    hubs, account = forwarding_replicas(shared)
    on_b = attach(hubs, hubs[1], account, tmp_path, "eu-on-b", "eu")
    key = hubs[0].admin("POST", "keys", json={"account_id": account, "name": "anywhere"})["key"]
    # a has no node: it sends the request to b, whose node answers; usage is metered once,
    # under the request id the client saw.
    wait_until(lambda: chat(hubs[0], key).status_code == 200, timeout=10, what="a to learn of b's node")
    answer = chat(hubs[0], key, "through a")
    assert answer.status_code == 200 and answer.headers["x-porten-node"] == on_b, answer.text
    assert answer.headers["x-porten-replica"].startswith("replica_")
    # The fleet view names the replica that ran it and the nodes it holds.
    others = hubs[0].fleet()["replicas"]["others"]
    assert [(other["id"], other["nodes"]) for other in others] == [(answer.headers["x-porten-replica"], [on_b])], others
    assert answer.json()["choices"][0]["message"]["content"]
    request_id = answer.headers["x-request-id"]
    rows = [row for row in hubs[0].admin("GET", "usage?limit=50")["data"] if row["request_id"] == request_id]
    assert len(rows) == 1 and rows[0]["node_id"] == on_b and rows[0]["status"] == 200, rows
    # A stream through a arrives chunk by chunk and ends with [DONE], as from b itself.
    with httpx.stream("POST", hubs[0].base_url + "/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                      json={"model": "ref-chat", "stream": True, "messages": [{"role": "user", "content": "stream through a"}]}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert len(lines) >= 3 and lines[-1] == "data: [DONE]", lines
    # The internal endpoint is not there for anyone without the replicas' token.
    for headers in ({}, {"X-Porten-Replica-Token": "wrong-token-0123456789"}):
        refused = httpx.post(hubs[1].url + "/internal/v1/chat/completions", headers={"Authorization": f"Bearer {key}", **headers},
                             json={"model": "ref-chat", "messages": [{"role": "user", "content": "hi"}]})
        assert refused.status_code == 404, refused.text
    # With the token, a forwarded request id is adopted once only: it is the ledger's
    # idempotency key, and a reused one must not make requests free.
    for _ in range(2):
        forwarded = httpx.post(hubs[1].url + "/internal/v1/chat/completions", timeout=30, json={"model": "ref-chat", "messages": [{"role": "user", "content": "hi"}]},
                               headers={"Authorization": f"Bearer {key}", "X-Porten-Replica-Token": "replica-secret-0123456789",
                                        "X-Porten-Forwarded-Request-Id": "req_000000000000000000c0ffee"})
        assert forwarded.status_code == 200 and forwarded.headers["x-porten-replica"].startswith("replica_"), forwarded.text
    rows = hubs[0].admin("GET", "usage?limit=20")["data"]
    assert [row["request_id"] for row in rows].count("req_000000000000000000c0ffee") == 1, rows
    # The key's rate limit counts once for a forwarded request (at the replica that runs it).
    limited = hubs[0].admin("POST", "keys", json={"account_id": account, "name": "limited", "requests_per_minute": 3})["key"]
    statuses = [chat(hubs[0], limited, f"limited {index}").status_code for index in range(6)]
    assert statuses.count(200) == 3 and statuses.count(429) == 3, statuses
    # Such a refusal is b's answer, relayed naming b: a is not misled into taking b for a wrong
    # replica, running requests itself (none of its own nodes) and avoiding b meanwhile.
    refused = chat(hubs[0], limited, "limited again")
    assert refused.status_code == 429 and refused.headers["x-porten-replica"] == answer.headers["x-porten-replica"], refused.headers
    assert "instead of replica" not in hubs[0].process.log()
    after = chat(hubs[0], key, "right after a refusal")
    assert after.status_code == 200 and after.headers["x-porten-node"] == on_b, after.text


def test_a_pinned_key_is_forwarded_only_to_nodes_its_policy_admits(shared, tmp_path):
    hubs, account = forwarding_replicas(shared)
    on_a = attach(hubs, hubs[0], account, tmp_path, "us-on-a", "us")
    on_b = attach(hubs, hubs[1], account, tmp_path, "eu-on-b", "eu")
    eu = hubs[0].admin("POST", "keys", json={"account_id": account, "name": "eu", "allowed_regions": ["eu"]})["key"]
    us = hubs[0].admin("POST", "keys", json={"account_id": account, "name": "us", "allowed_regions": ["us"]})["key"]
    ap = hubs[0].admin("POST", "keys", json={"account_id": account, "name": "ap", "allowed_regions": ["ap"]})["key"]
    wait_until(lambda: chat(hubs[0], eu).status_code == 200, timeout=10, what="a to learn of b's node")
    for hub in hubs:
        # Each key runs only in its region, whichever replica it comes through.
        for _ in range(3):
            assert chat(hub, eu).headers.get("x-porten-node") == on_b
            assert chat(hub, us).headers.get("x-porten-node") == on_a
        # No node anywhere is in the key's region: refused on both replicas, naming the constraint.
        refused = chat(hub, ap)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "no_available_node", refused.text
        assert "x-porten-replica" not in refused.headers
    # b gone: a no longer forwards to it, and the EU key fails closed instead of using a's US node.
    hubs[1].process.stop(sig_kill=True)
    time.sleep(1)
    refused = chat(hubs[0], eu)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "no_available_node", refused.text
    assert chat(hubs[0], us).status_code == 200


def test_a_cold_model_asked_for_on_both_replicas_at_once_is_loaded_once(shared, tmp_path):
    hubs, account = forwarding_replicas(shared)
    # Each replica has a provisionable node that could load ref-large (about 3 s here).
    nodes = [attach(hubs, hub, account, tmp_path, f"gpu-{name}", "eu", ("--vram-budget-mb", "8192", "--sim-download-mbps", "2000"))
             for hub, name in zip(hubs, "ab")]
    key = hubs[0].admin("POST", "keys", json={"account_id": account, "name": "cold"})["key"]
    time.sleep(1.5)  # both replicas have announced their nodes

    def ask(index):
        return chat(hubs[index % 2], key, f"cold {index}", model="ref-large")

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, range(4)))
    assert [answer.status_code for answer in answers] == [200] * 4, [answer.text for answer in answers]
    # One load: every answer came from the same node, and only that node has the model.
    served = {answer.headers["x-porten-node"] for answer in answers}
    assert len(served) == 1, served
    holding = [node["id"] for hub in hubs for node in hub.fleet()["nodes"] if any(model["id"] == "ref-large" for model in node["models"])]
    assert holding == list(served), holding
    # Through either replica the warm model is served by that node, and both warming endpoints say ready.
    assert all(chat(hub, key, "warm now", model="ref-large").headers["x-porten-node"] in served for hub in hubs)
    for hub in hubs:  # the other replica's view is at most an announcement (1 s) old
        wait_until(lambda: hub.warming("ref-large")["ready"] is True, timeout=5, what="warming to say ready on every replica")
