"""Sovereign routing with real processes: region-pinned keys, trust classes, own-nodes-only,
model allow-lists and rate limits, enforced fail-closed, with proof on every response."""
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from openai import OpenAI

from porten_fleet import Hub, wait_until


class Sovereign:
    def __init__(self, tmp_path, hub_args=()):
        self.tmp_path = tmp_path
        self.hub = Hub(tmp_path, extra_args=hub_args).start()
        self.mine = self.hub.admin("POST", "accounts", json={"name": "mine"})["id"]
        self.other = self.hub.admin("POST", "accounts", json={"name": "other"})["id"]

    def node(self, name, account=None, region="eu", trust_class="verified", *args):
        return self.hub.add_node(account or self.mine, self.tmp_path, name=name, region=region, trust_class=trust_class,
                                 extra_args=args).start()

    def key(self, **policy):
        return self.hub.admin("POST", "keys", json={"account_id": self.mine, "name": "k", **policy})

    def post(self, key, model="ref-chat", content="ping", budget=None):
        headers = {"Authorization": f"Bearer {key['key']}"}
        if budget is not None:
            headers["X-Porten-Warmup-Budget"] = str(budget)
        return httpx.post(self.hub.base_url + "/chat/completions", headers=headers, timeout=30,
                          json={"model": model, "messages": [{"role": "user", "content": content}]})

    def usage(self, key):
        return self.hub.admin("GET", f"usage?limit=500&key_id={key['id']}")["data"]


@pytest.fixture
def sovereign(tmp_path):
    fleet = Sovereign(tmp_path)
    yield fleet
    fleet.hub.stop()


def test_an_eu_pinned_key_is_served_only_in_the_eu_and_fails_closed(sovereign):
    eu = sovereign.node("eu", region="eu")
    us = sovereign.node("us", region="us", trust_class="confidential")
    pinned = sovereign.key(allowed_regions=["eu"])
    anywhere = sovereign.key()
    for _ in range(10):
        response = sovereign.post(pinned)
        assert response.status_code == 200
        assert (response.headers["x-porten-node"], response.headers["x-porten-region"]) == (eu.id, "eu")
    eu.process.stop()
    eu.wait_disconnected()
    refused = sovereign.post(pinned)
    assert refused.status_code == 503, refused.text
    error = refused.json()["error"]
    assert error["code"] == "no_available_node" and error["type"] == "service_unavailable"
    assert "limited to region eu" in error["message"] and us.id not in error["message"]
    assert int(refused.headers["retry-after"]) >= 1
    assert sovereign.post(anywhere).headers["x-porten-region"] == "us"  # the US node was up all along
    rows = sovereign.usage(pinned)
    assert len(rows) == 11 and {r["region"] for r in rows if r["status"] == 200} == {"eu"}
    assert all(r.get("node_id") in (eu.id, None) for r in rows)  # never the US node, even failing over


def test_own_nodes_only_refuses_another_accounts_idle_node(sovereign):
    theirs = sovereign.node("theirs", account=sovereign.other)
    own = sovereign.key(own_nodes_only=True)
    refused = sovereign.post(own)
    assert refused.status_code == 503 and "own account's nodes" in refused.json()["error"]["message"]
    assert sovereign.hub.node_status(theirs.id)["in_flight"] == 0
    mine = sovereign.node("mine")
    assert sovereign.post(own).headers["x-porten-node"] == mine.id


def test_minimum_trust_class_follows_the_operators_setting(sovereign):
    node = sovereign.node("n", trust_class="community")
    strict = sovereign.key(min_trust_class="trusted")
    refused = sovereign.post(strict)
    assert refused.status_code == 503 and "trust class trusted or higher" in refused.json()["error"]["message"]
    sovereign.hub.admin("PATCH", f"nodes/{node.id}", json={"trust_class": "trusted"})
    wait_until(lambda: sovereign.post(strict).status_code == 200, timeout=10, what="the node to come back as trusted")
    assert sovereign.hub.node_status(node.id)["trust_class"] == "trusted"


def test_model_allow_list_is_403_and_the_sdk_raises_permission_denied(sovereign):
    sovereign.node("n")
    limited = sovereign.key(model_allowlist=["ref-chat"])
    client = OpenAI(base_url=sovereign.hub.base_url, api_key=limited["key"], max_retries=0)
    assert client.chat.completions.create(model="ref-chat", messages=[{"role": "user", "content": "hi"}]).choices
    with pytest.raises(openai.PermissionDeniedError) as raised:
        client.chat.completions.create(model="ref-tools", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.body["code"] == "model_not_allowed" and raised.value.body["param"] == "model"
    with pytest.raises(openai.NotFoundError):  # unknown models stay 404
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])


def test_a_burst_over_the_rate_limit_admits_exactly_the_limit(sovereign):
    sovereign.node("n", "", "eu", "verified", "--concurrency", "32")
    limited = sovereign.key(requests_per_minute=5)
    barrier = threading.Barrier(12)

    def fire(_):
        barrier.wait()
        return sovereign.post(limited)

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(fire, range(12)))
    assert sorted(r.status_code for r in responses) == [200] * 5 + [429] * 7
    for refused in (r for r in responses if r.status_code == 429):
        assert refused.json()["error"]["code"] == "rate_limit_exceeded" and refused.json()["error"]["type"] == "rate_limit_error"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
    with pytest.raises(openai.RateLimitError):
        OpenAI(base_url=sovereign.hub.base_url, api_key=limited["key"], max_retries=0).chat.completions.create(
            model="ref-chat", messages=[{"role": "user", "content": "hi"}])


def test_tokens_per_minute(sovereign):
    sovereign.node("n")
    limited = sovereign.key(tokens_per_minute=15)
    # each request: 4 prompt + 3 completion tokens ("Echo: ping"); admitted while the minute's total < 15
    assert [sovereign.post(limited).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_policy_changes_apply_to_the_next_request(sovereign):
    sovereign.node("n", region="eu")
    key = sovereign.key()
    assert sovereign.post(key).status_code == 200
    sovereign.hub.admin("PATCH", f"keys/{key['id']}", json={"allowed_regions": ["us"]})
    assert sovereign.post(key).status_code == 503
    shown = sovereign.hub.admin("PATCH", f"keys/{key['id']}", json={"allowed_regions": None})
    assert shown["allowed_regions"] is None and sovereign.post(key).status_code == 200


def test_cold_models_load_only_on_compliant_nodes(sovereign):
    us = sovereign.node("us", None, "us", "verified", "--models", "", "--vram-budget-mb", "16000")
    pinned = sovereign.key(allowed_regions=["eu"])
    refused = sovereign.post(pinned, model="ref-large")
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "no_available_node"
    assert all(not n["models"] for n in sovereign.hub.fleet()["nodes"])  # the US node was never told to load
    eu = sovereign.node("eu", None, "eu", "verified", "--models", "", "--vram-budget-mb", "16000", "--sim-download-mbps", "10000",
                        "--sim-load-mbps", "20000")
    answer = sovereign.post(pinned, model="ref-large")
    assert answer.status_code == 200 and answer.headers["x-porten-node"] == eu.id
    hosted = {n["id"]: [m["id"] for m in n["models"]] for n in sovereign.hub.fleet()["nodes"]}
    assert hosted == {us.id: [], eu.id: ["ref-large"]}


def test_bad_policies_are_rejected_by_the_admin_api(sovereign):
    for body, param in [({"allowed_regions": []}, "allowed_regions"), ({"allowed_regions": ["EU West"]}, "allowed_regions"),
                        ({"min_trust_class": "gold"}, "min_trust_class"), ({"requests_per_minute": 0}, "requests_per_minute"),
                        ({"model_allowlist": "ref-chat"}, "model_allowlist")]:
        response = httpx.post(sovereign.hub.url + "/admin/v1/keys", headers={"Authorization": f"Bearer {sovereign.hub.admin_token}"},
                              json={"account_id": sovereign.mine, **body})
        assert response.status_code == 400 and response.json()["error"]["param"] == param, (body, response.text)
