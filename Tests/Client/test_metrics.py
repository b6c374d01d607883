"""GET /metrics: Prometheus text that prometheus-client parses, behind the operator token, whose
counters match what the test sent, and which never names a key, a user or a prompt."""
import httpx
import openai
import pytest
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from porten_fleet import Hub


def scrape(hub):
    text = httpx.get(hub.url + "/metrics", headers={"Authorization": f"Bearer {hub.admin_token}"}).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return text, samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def test_metrics_count_what_was_sent(tmp_path):
    hub = Hub(tmp_path).start()
    try:
        account = hub.admin("POST", "accounts", json={"name": "m"})["id"]
        key = hub.create_key(account)["key"]
        hub.add_node(account, tmp_path, region="eu", trust_class="verified", extra_args=("--vram-budget-mb", "8192", "--sim-download-mbps", "3000", "--sim-load-mbps", "6000")).start()
        assert httpx.get(hub.url + "/metrics").status_code == 401
        client = OpenAI(base_url=hub.base_url, api_key=key, max_retries=0, timeout=60)
        prompt_tokens = completion_tokens = 0
        for i in range(7):
            answer = client.chat.completions.create(model="ref-chat", messages=[{"role": "user", "content": f"secret prompt {i}"}], user="alice-the-user")
            prompt_tokens += answer.usage.prompt_tokens
            completion_tokens += answer.usage.completion_tokens
        for _ in range(3):
            with pytest.raises(openai.NotFoundError):
                client.chat.completions.create(model="no-such-model-xyz", messages=[{"role": "user", "content": "Hi"}])
        client.chat.completions.create(model="ref-large", messages=[{"role": "user", "content": "cold"}])  # a load on demand

        text, samples = scrape(hub)
        assert value(samples, "porten_requests_total", endpoint="chat.completions", model="ref-chat", status="200", code="") == 7
        assert value(samples, "porten_requests_total", endpoint="chat.completions", model="other", status="404", code="model_not_found") == 3
        assert value(samples, "porten_tokens_total", model="ref-chat", direction="input") == prompt_tokens
        assert value(samples, "porten_tokens_total", model="ref-chat", direction="output") == completion_tokens
        assert value(samples, "porten_request_duration_seconds_count", endpoint="chat.completions", model="ref-chat") == 7
        assert value(samples, "porten_time_to_first_token_seconds_count", model="ref-chat") == 7
        assert value(samples, "porten_loads_started_total", model="ref-large") == 1
        assert value(samples, "porten_load_duration_seconds_count", model="ref-large") == 1
        assert value(samples, "porten_admission_wait_seconds_count", model="ref-large", wait="warmup") >= 1
        assert value(samples, "porten_nodes_connected", region="eu", trust_class="verified") == 1
        assert any(name == "porten_node_in_flight_requests" for name, _ in samples)
        for secret in (key, "alice-the-user", "secret prompt", "no-such-model-xyz", account):
            assert secret not in text
    finally:
        hub.stop()
