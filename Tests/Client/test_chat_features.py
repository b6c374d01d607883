"""Chat completions beyond plain text, through the official SDK against a real Hub and sim node:
tools, JSON modes, vision, reasoning, parameter forwarding, errors inside a stream. Every
expected value follows from the sim rules in docs/sim-engine.md."""
import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import openai
import pytest
from pydantic import BaseModel

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "maximum": 3}},
                       "required": ["city", "days"]},
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()  # 24 bytes


def user(text):
    return [{"role": "user", "content": text}]


def raw_stream(fleet, body):
    """The data payloads of a streamed response, as sent."""
    with httpx.stream("POST", fleet.base_url + "/chat/completions", headers={"Authorization": f"Bearer {fleet.api_key}"},
                      json={**body, "stream": True}, timeout=20) as response:
        assert response.status_code == 200
        text = "".join(response.iter_text())
    assert text.endswith("data: [DONE]\n\n")
    return [json.loads(event[6:]) for event in text.split("\n\n") if event.startswith("data: {")]


# Tools

def test_tool_call_non_streaming(client):
    completion = client.chat.completions.create(model="ref-tools", tools=[WEATHER], messages=user("Use get_weather, please"))
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather" and call.id.startswith("call_")
    assert json.loads(call.function.arguments) == {"city": "Use get_weather, please", "days": 3}
    # prompt: 6 + 3 (message) + 3 + 4 + 3 (tool); completion: 1 (the call) + 20 argument tokens:
    # { " city " : " Use ␣get _ weather , ␣please " , " days " : 3 }
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (19, 1 + 20)


def test_streamed_tool_calls_reassemble_with_the_sdk_helpers(client, fleet):
    messages = user("get_time and get_weather")
    with client.chat.completions.stream(model="ref-tools", tools=[WEATHER, TIME], messages=messages) as stream:
        events = list(stream)
        final = stream.get_final_completion()
    done = [e for e in events if e.type == "tool_calls.function.arguments.done"]
    assert [(e.index, e.name) for e in done] == [(0, "get_weather"), (1, "get_time")]
    assert [json.loads(e.arguments) for e in done] == [{"city": "get_time and get_weather", "days": 3}, {}]
    streamed = final.choices[0].message.tool_calls
    plain_message = client.chat.completions.create(model="ref-tools", tools=[WEATHER, TIME], messages=messages).choices[0].message
    plain = plain_message.tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in streamed] == [(c.id, c.function.name, c.function.arguments) for c in plain]
    assert final.choices[0].message.content is None and plain_message.content is None  # the role chunk said content: null
    assert final.choices[0].finish_reason == "tool_calls"
    # On the wire: a call's first piece has index, id, type and name; the rest only index and arguments.
    pieces = [c["choices"][0]["delta"]["tool_calls"][0] for c in raw_stream(fleet, {"model": "ref-tools", "tools": [WEATHER, TIME], "messages": messages})
              if c["choices"] and "tool_calls" in c["choices"][0]["delta"]]
    firsts = [p for p in pieces if "id" in p]
    assert [(p["index"], p["type"], p["function"]["name"], p["function"]["arguments"]) for p in firsts] == [(0, "function", "get_weather", ""), (1, "function", "get_time", "")]
    assert all(set(p) == {"index", "function"} and set(p["function"]) == {"arguments"} for p in pieces if "id" not in p)


def test_tool_choice_none_required_named_and_parallel_off(client):
    def names(**kwargs):
        message = client.chat.completions.create(model="ref-tools", tools=[WEATHER, TIME], **kwargs).choices[0].message
        return [c.function.name for c in message.tool_calls or []], message.content

    assert names(messages=user("Hello")) == ([], "Echo: Hello")
    assert names(messages=user("get_weather"), tool_choice="none") == ([], "Echo: get_weather")
    assert names(messages=user("Hello"), tool_choice="required") == (["get_weather"], None)
    assert names(messages=user("get_weather"), tool_choice={"type": "function", "function": {"name": "get_time"}}) == (["get_time"], None)
    assert names(messages=user("get_time and get_weather"), parallel_tool_calls=False) == (["get_weather"], None)


def test_tool_results_round_trip(client):
    first = client.chat.completions.create(model="ref-tools", tools=[WEATHER], messages=user("get_weather in Paris")).choices[0].message
    history = user("get_weather in Paris") + [first.model_dump(exclude_none=True),
                                              {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "sunny, 21 C"}]
    answer = client.chat.completions.create(model="ref-tools", tools=[WEATHER], messages=history).choices[0]
    assert answer.message.content == "Tool results: sunny, 21 C" and answer.finish_reason == "stop"
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="ref-tools", tools=[WEATHER], messages=history[:2] + [{"role": "tool", "tool_call_id": "call_nope", "content": "x"}])
    assert raised.value.body["param"] == "messages[2].tool_call_id"


def test_tools_for_a_model_without_tools_is_a_400_not_a_capacity_error(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="ref-chat", tools=[WEATHER], messages=user("get_weather"))
    assert raised.value.body["param"] == "tools" and raised.value.body["code"] == "model_not_supported"
    assert "ref-tools" in raised.value.body["message"]


# JSON output

def test_json_object_mode(client):
    content = client.chat.completions.create(model="ref-tools", response_format={"type": "json_object"}, messages=user('Say "hi"')).choices[0].message.content
    assert json.loads(content) == {"echo": 'Say "hi"'}
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="ref-chat", response_format={"type": "json_object"}, messages=user("hi"))
    assert raised.value.body["param"] == "response_format"


class Card(BaseModel):
    title: str
    votes: int
    tags: list[str]
    final: bool


def test_json_schema_parses_into_the_schema_with_the_sdk(client):
    completion = client.chat.completions.parse(model="ref-tools", response_format=Card, messages=user("Three little words"))
    assert completion.choices[0].message.parsed == Card(title="Three little words", votes=3, tags=["Three little words"], final=True)


def test_json_schema_without_a_name_is_rejected(fleet):
    response = httpx.post(fleet.base_url + "/chat/completions", headers={"Authorization": f"Bearer {fleet.api_key}"}, json={
        "model": "ref-tools", "messages": user("hi"), "stream": True,
        "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}})
    assert response.status_code == 400 and response.headers["content-type"].startswith("application/json")  # not a stream
    assert response.json()["error"]["code"] == "missing_required_parameter"
    assert response.json()["error"]["param"] == "response_format.json_schema.name"


# Vision

class Recorder(BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):
        Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_vision_with_a_data_url_and_remote_urls_never_fetched(client):
    content = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": PNG}}]
    completion = client.chat.completions.create(model="ref-vision", messages=[{"role": "user", "content": content}])
    assert completion.choices[0].message.content == "Echo: What is this? [image 1: image/png, 24 bytes]"
    assert completion.usage.prompt_tokens == 4 + 3 + 85
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        remote = f"http://127.0.0.1:{server.server_port}/cat.png"
        with pytest.raises(openai.BadRequestError) as raised:
            client.chat.completions.create(model="ref-vision", messages=[{"role": "user", "content": [content[0], {"type": "image_url", "image_url": {"url": remote}}]}])
        assert raised.value.body["param"] == "messages[0].content[1].image_url.url"
        assert raised.value.body["code"] == "image_url_not_supported"
        assert Recorder.hits == []  # the Hub never fetched it
    finally:
        server.shutdown()
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="ref-vision", messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]}])
    assert raised.value.body["code"] == "invalid_value"
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="ref-chat", messages=[{"role": "user", "content": content}])
    assert raised.value.body["param"] == "messages[0].content" and "vision" in raised.value.body["message"]


# Reasoning

def test_reasoning_is_separate_from_content(client):
    message = client.chat.completions.create(model="ref-reasoner", messages=user("Hi")).choices[0].message
    assert message.reasoning_content == "Let me think. The user said: Hi"
    assert message.content == "Echo: Hi"
    stream = client.chat.completions.create(model="ref-reasoner", stream=True, messages=user("Hi"))
    kinds = []
    for chunk in stream:
        delta = chunk.choices[0].delta
        if getattr(delta, "reasoning_content", None):
            kinds.append("reasoning")
        elif delta.content:
            kinds.append("content")
    assert kinds == ["reasoning"] * 9 + ["content"] * 3  # reasoning first, then Echo | : | ␣Hi
    assembled = client.chat.completions.create(
        model="ref-reasoner", messages=user("Hi") + [{"role": "assistant", "content": "Echo: Hi", "reasoning_content": "Let me think."},
                                                     {"role": "user", "content": "Again"}])
    assert assembled.choices[0].message.content == "Echo: Again"  # reasoning_content accepted on input


def test_a_small_budget_is_spent_on_reasoning(client):
    completion = client.chat.completions.create(model="ref-reasoner", max_tokens=5, messages=user("Hi"))
    choice = completion.choices[0]
    assert choice.finish_reason == "length" and choice.message.content == ""
    assert completion.usage.completion_tokens == 5
    assert completion.usage.completion_tokens_details.reasoning_tokens == 5


# Parameters and streams

def test_sampling_parameters_reach_the_engine(client):
    answer = client.chat.completions.create(
        model="ref-chat", temperature=0.5, top_p=0.9, seed=7, presence_penalty=0.25, frequency_penalty=-1, max_completion_tokens=99,
        stop=["#"], messages=user("[sim:echo-params]"), extra_body={"top_k": 40, "mirostat": 2})  # unknown ones are ignored
    assert answer.choices[0].message.content == (
        "Params: temperature=0.5 top_p=0.9 seed=7 presence_penalty=0.25 frequency_penalty=-1.0 max_tokens=99")
    legacy = client.chat.completions.create(model="ref-chat", max_tokens=42, messages=user("[sim:echo-params]"))
    assert legacy.choices[0].message.content == (
        "Params: temperature=- top_p=- seed=- presence_penalty=- frequency_penalty=- max_tokens=42")
    cut = client.chat.completions.create(model="ref-chat", stop=["top_p"], messages=user("[sim:echo-params]"))
    assert cut.choices[0].message.content == "Params: temperature=- " and cut.choices[0].finish_reason == "stop"


def test_include_usage_with_tools_is_one_last_chunk(client):
    chunks = list(client.chat.completions.create(
        model="ref-tools", tools=[WEATHER], stream=True, stream_options={"include_usage": True}, messages=user("get_weather")))
    assert [c.usage is not None for c in chunks].count(True) == 1
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 1 + 17  # {"city":"get_weather","days":3}
    assert chunks[-2].choices[0].finish_reason == "tool_calls"


def test_a_node_failure_mid_stream_is_an_error_event_then_done(client, fleet):
    stream = client.chat.completions.create(model="ref-chat", stream=True, messages=user("boom [sim:fail-mid-stream]"))
    received = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "Echo", ":"]  # the role chunk, two tokens, then the error
    assert "mid-stream" in str(raised.value)
    with httpx.stream("POST", fleet.base_url + "/chat/completions", headers={"Authorization": f"Bearer {fleet.api_key}"},
                      json={"model": "ref-chat", "stream": True, "messages": user("boom [sim:fail-mid-stream]")}) as response:
        events = "".join(response.iter_text()).split("\n\n")
    assert events[-3].startswith('data: {"error":') and json.loads(events[-3][6:])["error"]["code"] == "node_error"
    assert events[-2:] == ["data: [DONE]", ""]


def test_user_and_metadata_are_recorded_on_the_usage_row(client, fleet):
    client.chat.completions.create(model="ref-chat", user="user-42", metadata={"team": "search"}, messages=user("secret words"))
    row = fleet.admin("GET", "usage?limit=1")["data"][0]
    assert row["user"] == "user-42" and json.loads(row["metadata"]) == {"team": "search"}
    assert "secret" not in json.dumps(row)


def test_a_whole_answer_cut_short_is_billed_for_the_pieces_the_node_sent(client, fleet):
    # A node sends a whole (non-streamed) answer's text in few deltas, each saying how many pieces
    # it carries, and what it had before a failure: the usage row counts them as it counted one
    # delta per piece.
    with pytest.raises(openai.APIStatusError) as raised:
        client.with_options(max_retries=0).chat.completions.create(model="ref-chat", messages=user("boom [sim:fail-mid-stream]"))
    assert raised.value.status_code == 502
    request_id = raised.value.response.headers["x-request-id"]
    row = None
    for _ in range(100):
        row = next((r for r in fleet.admin("GET", "usage?limit=50")["data"] if r["request_id"] == request_id), None)
        if row:
            break
        time.sleep(0.05)
    assert row and row["status"] == 502 and row["completion_tokens"] == 2, row  # "Echo", ":"
