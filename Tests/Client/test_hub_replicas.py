"""Hub replicas sharing one database and one Redis (issue #17, items 2 and 4; docs/self-host.md is
to come): a key's rate limit counts across the replicas, exactly; when Redis goes away each
replica keeps enforcing the limit on its own count (logged, `porten_redis_up` 0, `rate_limits:
per_replica`) and the shared count returns with Redis."""
from concurrent.futures import ThreadPoolExecutor

import httpx

from conftest import Hub, Node, RedisServer, wait_until


def replicas(tmp_path, redis):
    """Two Hubs on one data directory and one Redis, each with a sim node of its own."""
    token = "padm-replicas-0123456789abcdef"
    data_dir = str(tmp_path / "shared-data")
    hubs = [Hub(tmp_path, extra_args=("--redis-url", redis.url), name=f"hub-{name}", data_dir=data_dir, admin_token=token) for name in "ab"]
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


def test_a_burst_across_replicas_is_admitted_exactly_to_the_keys_limit(tmp_path):
    redis = RedisServer(tmp_path).start()
    hubs = []
    try:
        hubs, account = replicas(tmp_path, redis)
        key = key_with_limit(hubs[0], account, 10)
        per_replica = burst(hubs, key, 30)
        statuses = per_replica[0] + per_replica[1]
        assert statuses.count(200) == 10 and statuses.count(429) == 20, per_replica
        assert all(200 in statuses for statuses in per_replica), per_replica  # both replicas served a share
        for hub in hubs:
            assert hub.fleet()["rate_limits"] == "shared"
            assert metric(hub, "porten_redis_up") == ["porten_redis_up 1.0"]
    finally:
        for hub in hubs:
            hub.stop()
        redis.kill()


def test_without_redis_each_replica_enforces_the_limit_alone_until_redis_returns(tmp_path):
    redis = RedisServer(tmp_path).start()
    hubs = []
    try:
        hubs, account = replicas(tmp_path, redis)
        redis.kill()
        key = key_with_limit(hubs[0], account, 3)
        # Redis is gone: never unlimited, never refused for it; each replica counts its own 3.
        per_replica = burst(hubs, key, 10)
        assert [statuses.count(200) for statuses in per_replica] == [3, 3], per_replica
        for hub in hubs:
            assert hub.fleet()["rate_limits"] == "per_replica"
            assert metric(hub, "porten_redis_up") == ["porten_redis_up 0.0"]
            assert "rate limits fall back to each replica's own count" in hub.process.log()
        # Redis is back (empty): the clients reconnect and the replicas count together again.
        redis.start()
        fresh = key_with_limit(hubs[0], account, 4)

        def shared_again():
            burst(hubs, key_with_limit(hubs[0], account, 100), 2)
            return all(hub.fleet()["rate_limits"] == "shared" for hub in hubs)

        wait_until(shared_again, timeout=30, interval=0.5, what="the replicas to share Redis again")
        per_replica = burst(hubs, fresh, 12)
        assert (per_replica[0] + per_replica[1]).count(200) == 4, per_replica
    finally:
        for hub in hubs:
            hub.stop()
        redis.kill()
