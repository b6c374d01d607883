"""`porten dev` as a new user meets it: the printed settings work with the SDK, and the cold
`ref-large` model loads on first use while the warming endpoint shows the phases."""
import json
import os
import subprocess
import threading
import time

import httpx
import pytest
from openai import OpenAI

from porten_fleet import PORTEN_BIN, Process, porten_dev, wait_until


@pytest.fixture
def dev(tmp_path):
    """`porten dev` on a free port: (port, the settings it printed)."""
    process, settings = porten_dev(tmp_path)
    try:
        yield int(settings["PORTEN_BASE_URL"].split(":")[2].split("/")[0]), settings
    finally:
        process.stop()


def test_dev_serves_and_loads_the_cold_model_on_first_use(dev):
    port, settings = dev
    client = OpenAI(base_url=settings["PORTEN_BASE_URL"], api_key=settings["PORTEN_API_KEY"], max_retries=0, timeout=60)
    deadline = time.monotonic() + 15
    while not {m.id: m for m in client.models.list().data}["ref-chat"].x_porten["ready"]:
        assert time.monotonic() < deadline, "the dev sim node never connected"
        time.sleep(0.05)
    assert not {m.id: m for m in client.models.list().data}["ref-large"].x_porten["ready"]
    phases, done = [], threading.Event()

    def observe():
        status = httpx.get(f"http://127.0.0.1:{port}/public/v1/models/warming", params={"model": "ref-large"}).json()
        if not phases or phases[-1] != status["phase"]:
            phases.append(status["phase"])

    def watch():
        while not done.is_set():
            observe()
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        answer = client.chat.completions.create(model="ref-large", messages=[{"role": "user", "content": "Hi big"}])
    finally:
        done.set()
        watcher.join()
    observe()
    assert answer.choices[0].message.content == "Echo: Hi big"
    assert phases in (["cold", "downloading", "loading", "ready"], ["downloading", "loading", "ready"]), phases
    assert {m.id: m for m in client.models.list().data}["ref-large"].x_porten["ready"]


def test_the_fail_closed_walkthrough(dev, tmp_path):
    """docs/sovereignty.md, step by step, with the admin CLI."""
    port, settings = dev
    env = {**os.environ, "PORTEN_HUB_URL": f"http://127.0.0.1:{port}", "PORTEN_ADMIN_TOKEN": settings["PORTEN_ADMIN_TOKEN"]}

    def admin(*args):
        return json.loads(subprocess.run([PORTEN_BIN, "admin", *args], env=env, check=True, capture_output=True, text=True).stdout)

    account = next(a["id"] for a in admin("accounts", "list")["data"] if a["name"] == "dev")
    node = admin("nodes", "add", "--account", account, "--name", "my-eu-box", "--region", "eu", "--trust-class", "trusted")
    box = Process([PORTEN_BIN, "node", "--hub", env["PORTEN_HUB_URL"], "--credential", node["credential"], "--engine", "sim"], str(tmp_path / "box.log")).start()
    try:
        key = admin("keys", "create", "--account", account, "--name", "sovereign", "--regions", "eu", "--own-nodes-only")
        assert key["allowed_regions"] == ["eu"] and key["own_nodes_only"] is True

        def ask():
            return httpx.post(settings["PORTEN_BASE_URL"] + "/chat/completions", headers={"Authorization": f"Bearer {key['key']}"},
                              json={"model": "ref-chat", "messages": [{"role": "user", "content": "Hi"}]}, timeout=10)

        wait_until(lambda: ask().status_code == 200, what="my EU node to serve")
        served = ask()
        assert (served.headers["x-porten-node"], served.headers["x-porten-region"]) == (node["id"], "eu")
    finally:
        box.stop()
    wait_until(lambda: not next(n for n in admin("nodes", "list")["data"] if n["id"] == node["id"])["connected"], what="the box to stop")
    refused = ask()
    assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
    assert refused.json()["error"]["code"] == "no_available_node" and "limited to region eu" in refused.json()["error"]["message"]
    plain = httpx.post(settings["PORTEN_BASE_URL"] + "/chat/completions", headers={"Authorization": f"Bearer {settings['PORTEN_API_KEY']}"},
                       json={"model": "ref-chat", "messages": [{"role": "user", "content": "Hi"}]}, timeout=10)
    assert plain.headers["x-porten-region"] == "local"  # the dev node was ready all along
    rows = [r for r in admin("usage", "--limit", "50")["data"] if r.get("key_id") == key["id"]]
    assert {r.get("region") for r in rows if r["status"] == 200} == {"eu"} and rows[0]["status"] == 503
