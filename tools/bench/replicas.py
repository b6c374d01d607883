"""Two Hub replicas against one, on one Postgres and one Redis (issue #17's throughput question).

Each replica has a sim node of its own (no token delay, concurrency 64). wrk sends the same
non-streamed chat completion: at c=32 to the single replica, then at c=16 to each of the two at
once; the table gives successful requests/s, non-2xx and p50/p99. Then the same two replicas with
the node on b only, all traffic through a (every request forwarded a → b): the cost of a hop.

Usage: .venv/bin/python tools/bench/replicas.py --binary .build/release/porten [--duration 10]
A benchmark, not a test: on this 2-core machine every process shares the same two cores.
"""
import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.dirname(__file__))
from compare import wrk  # noqa: E402
from porten_fleet import Hub, Node, PostgresServer, RedisServer  # noqa: E402

REQUEST = {"model": "ref-chat", "max_tokens": 8, "messages": [{"role": "user", "content": "Hello, world!"}]}
TOKEN = "padm-bench-0123456789abcdef01"


def replicas(work, count, redis, postgres, binary, nodes_on):
    hubs = [Hub(work, ("--redis-url", redis.url, "--database-url", postgres.url, "--replica-token", "bench-replica-token-0123",
                       "--log-level", "warning"), name=f"hub-{count}-{index}", data_dir=str(work / f"data-{count}-{index}"),
                admin_token=TOKEN, binary=binary) for index in range(count)]
    try:
        for hub in hubs:
            hub.start()
        account = hubs[0].admin("POST", "accounts", json={"name": f"bench-{count}-{time.time()}"})["id"]
        for index in nodes_on:
            created = hubs[0].admin("POST", "nodes", json={"account_id": account, "name": f"sim-{count}-{index}", "region": "eu",
                                                           "trust_class": "verified"})
            node = Node(hubs[index], created["id"], created["credential"], str(work / f"node-{count}-{index}.log"),
                        ("--token-delay-ms", "0", "--concurrency", "64", "--log-level", "warning"))
            hubs[index].nodes.append(node)
            node.start()
        key = hubs[0].admin("POST", "keys", json={"account_id": account, "name": "bench"})["key"]
    except BaseException:
        for hub in hubs:
            hub.stop()
        raise
    return hubs, key


def load(targets, connections, duration, key, work):
    """wrk against every target at once; the summed numbers."""
    results = [None] * len(targets)

    def run(index, hub):
        sub = work / f"wrk-{index}"
        sub.mkdir(exist_ok=True)
        results[index] = wrk(hub.base_url + "/chat/completions", connections, duration, {"Authorization": f"Bearer {key}"}, REQUEST, str(sub))

    threads = [threading.Thread(target=run, args=(index, hub)) for index, hub in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"ok/s": sum(r["ok"] for r in results) / duration, "non2xx": sum(r["non2xx"] + r["errors"] for r in results),
            "p50": max(r["p50"] for r in results), "p99": max(r["p99"] for r in results)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/porten"))
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="porten-bench-replicas-"))
    redis, postgres = RedisServer(work).start(), PostgresServer().start()
    rows = []
    try:
        for label, count, nodes_on, targets, connections in [
            ("1 replica, 1 node", 1, [0], [0], 32),
            ("2 replicas, a node each, c=16 on each", 2, [0, 1], [0, 1], 16),
            ("2 replicas, node on b, all through a (forwarded)", 2, [1], [0], 32),
        ]:
            hubs, key = replicas(work, count, redis, postgres, os.path.abspath(args.binary), nodes_on)
            try:
                time.sleep(2)  # announcements
                load([hubs[i] for i in targets], connections, 2, key, work)  # warm-up
                rows.append((label, load([hubs[i] for i in targets], connections, args.duration, key, work)))
            finally:
                for hub in hubs:
                    hub.stop()
    finally:
        redis.kill()
        postgres.remove()
    print(f"{'setup':<52} {'ok req/s':>9} {'non-2xx':>8} {'p50 ms':>7} {'p99 ms':>7}")
    for label, row in rows:
        print(f"{label:<52} {row['ok/s']:>9.0f} {row['non2xx']:>8} {row['p50']:>7.2f} {row['p99']:>7.2f}")


if __name__ == "__main__":
    main()
