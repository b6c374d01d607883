"""The core OpenAI endpoints through a real Hub, a real tunnel and a real sim node, with the
official openai SDK as the client. Expected texts follow docs/sim-engine.md."""
import base64
import math
import struct
import threading
import time

import httpx
import openai
import pytest

from porten_fleet import wait_until

PROMPT = "Hello, world!"
ECHO = "Echo: Hello, world!"  # tokens: Echo | : | " Hello" | , | " world" | !  → 6


def test_models_lists_every_offered_model_with_readiness(client):
    models = {m.id: m for m in client.models.list().data}
    assert set(models) == {"ref-chat", "ref-tools", "ref-reasoner", "ref-vision", "ref-embed", "ref-large"}
    assert models["ref-large"].x_porten["ready"] is False  # offered, but the fixed sim node does not serve it
    chat = models["ref-chat"]
    assert chat.object == "model" and chat.owned_by == "porten-sim"
    assert chat.x_porten == {"ready": True, "type": "chat", "ctx": 8192, "capabilities": []}
    assert models["ref-tools"].x_porten["capabilities"] == ["tools", "json"]
    assert models["ref-embed"].x_porten["type"] == "embedding"


def test_chat_non_streaming(client, fleet):
    raw = client.chat.completions.with_raw_response.create(
        model="ref-chat", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": PROMPT}]
    )
    assert raw.headers["x-porten-node"] == fleet.node.id
    assert raw.headers["x-request-id"].startswith("req_")
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "ref-chat"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == ECHO
    assert choice.finish_reason == "stop"
    # prompt: (3 + 3) for "Be brief." + (4 + 3) for "Hello, world!"; completion: 6 tokens.
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (13, 6, 19)


def test_chat_max_tokens_ends_with_length(client):
    completion = client.chat.completions.create(model="ref-chat", max_tokens=3, messages=[{"role": "user", "content": PROMPT}])
    assert completion.choices[0].message.content == "Echo: Hello"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 3


def test_chat_stop_sequence(client):
    completion = client.chat.completions.create(model="ref-chat", stop=[","], messages=[{"role": "user", "content": PROMPT}])
    assert completion.choices[0].message.content == "Echo: Hello"
    assert completion.choices[0].finish_reason == "stop"


def test_chat_streaming_reassembled(client):
    stream = client.chat.completions.create(
        model="ref-chat", stream=True, stream_options={"include_usage": True}, messages=[{"role": "user", "content": PROMPT}]
    )
    chunks = list(stream)
    assert len({c.id for c in chunks}) == 1 and len({c.created for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == ECHO
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 6
    # one chunk per token between the role chunk and the finish chunk
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 6


def test_stream_wire_framing(fleet):
    with httpx.stream(
        "POST", fleet.base_url + "/chat/completions", headers={"Authorization": f"Bearer {fleet.api_key}"},
        json={"model": "ref-chat", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}, timeout=10,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = response.read().decode()
    events = body.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    assert all(e.startswith("data: {") for e in events[:-2])


def test_embeddings_float_and_base64_agree(client):
    as_float = client.embeddings.create(model="ref-embed", input=["alpha", "beta"], encoding_format="float")
    # The SDK asks for base64 by default and decodes it itself.
    as_base64 = client.embeddings.create(model="ref-embed", input=["alpha", "beta"])
    assert [d.index for d in as_float.data] == [0, 1]
    for f, b in zip(as_float.data, as_base64.data):
        assert len(f.embedding) == 16
        assert f.embedding == pytest.approx(b.embedding, abs=1e-6)
        assert math.isclose(math.sqrt(sum(x * x for x in f.embedding)), 1.0, rel_tol=1e-5)
    assert as_float.data[0].embedding != as_float.data[1].embedding
    assert as_float.usage.prompt_tokens == 2 and as_float.usage.total_tokens == 2


def test_embeddings_base64_is_little_endian_float32(fleet):
    body = httpx.post(
        fleet.base_url + "/embeddings", headers={"Authorization": f"Bearer {fleet.api_key}"},
        json={"model": "ref-embed", "input": "alpha", "encoding_format": "base64"},
    ).json()
    floats = httpx.post(
        fleet.base_url + "/embeddings", headers={"Authorization": f"Bearer {fleet.api_key}"},
        json={"model": "ref-embed", "input": "alpha"},
    ).json()["data"][0]["embedding"]
    raw = base64.b64decode(body["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == pytest.approx(floats, abs=1e-7)


def test_empty_embedding_input_is_400(client):
    with pytest.raises(openai.BadRequestError) as error:
        client.embeddings.create(model="ref-embed", input="")
    assert error.value.body["param"] is None  # as OpenAI answers an empty input


def test_bad_key_raises_authentication_error(fleet):
    bad = openai.OpenAI(base_url=fleet.base_url, api_key="sk-porten-not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as error:
        bad.chat.completions.create(model="ref-chat", messages=[{"role": "user", "content": "hi"}])
    assert error.value.code == "invalid_api_key"


def test_revoked_key_is_refused(fleet, client):
    fresh = fleet.create_key(fleet.account_id)
    c = openai.OpenAI(base_url=fleet.base_url, api_key=fresh["key"], max_retries=0)
    assert c.models.list().data
    fleet.admin("DELETE", f"keys/{fresh['id']}")
    with pytest.raises(openai.AuthenticationError):
        c.models.list()
    assert client.models.list().data  # other keys unaffected


def test_unknown_model_raises_not_found(client):
    with pytest.raises(openai.NotFoundError) as error:
        client.chat.completions.create(model="gpt-17", messages=[{"role": "user", "content": "hi"}])
    assert error.value.code == "model_not_found"
    assert error.value.body["param"] is None  # as OpenAI answers it


def test_malformed_json_and_wrong_types_are_400(fleet, client):
    response = httpx.post(
        fleet.base_url + "/chat/completions", headers={"Authorization": f"Bearer {fleet.api_key}"},
        content=b'{"model": "ref-chat", "messages": [', timeout=10,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as wrong_type:
        client.chat.completions.create(model="ref-chat", max_tokens="ten", messages=[{"role": "user", "content": "hi"}])
    assert wrong_type.value.body["param"] == "max_tokens"
    with pytest.raises(openai.BadRequestError) as bad_role:
        client.chat.completions.create(model="ref-chat", messages=[{"role": "wizard", "content": "hi"}])
    assert bad_role.value.body["param"] == "messages[0].role"
    with pytest.raises(openai.BadRequestError) as n:
        client.chat.completions.create(model="ref-chat", n=2, messages=[{"role": "user", "content": "hi"}])
    assert n.value.code == "unsupported_parameter" and n.value.body["param"] == "n"


def test_oversized_body_is_413(fleet):
    huge = "x" * (17 << 20)
    response = httpx.post(
        fleet.base_url + "/chat/completions", headers={"Authorization": f"Bearer {fleet.api_key}"},
        json={"model": "ref-chat", "messages": [{"role": "user", "content": huge}]}, timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert response.headers["x-request-id"]


def test_two_concurrent_streams_through_one_node_stay_separate(client):
    prompts = {"a": " ".join(f"alpha{i}" for i in range(40)), "b": " ".join(f"beta{i}" for i in range(40))}
    results, spans = {}, {}

    def run(name):
        start = time.monotonic()
        stream = client.chat.completions.create(
            model="ref-chat", stream=True, messages=[{"role": "user", "content": prompts[name]}]
        )
        results[name] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        spans[name] = (start, time.monotonic())

    threads = [threading.Thread(target=run, args=(n,)) for n in prompts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == {n: "Echo: " + p for n, p in prompts.items()}
    (a0, a1), (b0, b1) = spans["a"], spans["b"]
    assert a0 < b1 and b0 < a1, "the two streams did not overlap"


def test_client_disconnect_cancels_generation(fleet, client):
    long_prompt = " ".join(f"w{i}" for i in range(1000))  # ~1000 tokens at 5 ms each: 5 s if not cancelled
    stream = client.chat.completions.create(model="ref-chat", stream=True, messages=[{"role": "user", "content": long_prompt}])
    next(iter(stream))
    next(iter(stream))
    stream.close()
    started = time.monotonic()
    wait_until(lambda: fleet.node_status(fleet.node.id)["in_flight"] == 0, timeout=3, what="the cancelled request to leave the node")
    assert time.monotonic() - started < 3
    rows = fleet.admin("GET", "usage?limit=5")["data"]
    assert rows[0]["status"] == 499 and rows[0]["model"] == "ref-chat"
