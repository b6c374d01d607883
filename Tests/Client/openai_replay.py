"""A loopback server that answers as OpenAI's live API does, for judging the conformance suite.

What it models
    /v1/chat/completions (non-stream and SSE), /v1/embeddings, /v1/models, /v1/models/{id}, for
    three models: ``gpt-4o-mini`` (answers as ``gpt-4o-mini-2024-07-18``), ``gpt-4o`` (answers as
    ``gpt-4o-2024-08-06``) and ``text-embedding-3-small`` (1536 wide, ``dimensions`` honoured).
    Any bearer key starting ``sk-test`` is valid. Answers are deterministic ("Echo: <last user
    text>", vectors seeded from the input), but every wire behaviour follows OpenAI's:

    * Wire shape of 2025 captures: non-stream ``chat.completion`` with ``refusal``/``annotations``
      on the message, ``service_tier``, ``system_fingerprint`` and usage detail objects; chunks with
      ``service_tier``, ``system_fingerprint``, ``obfuscation`` on every chunk, ``usage: null`` on
      every chunk when ``stream_options.include_usage`` is on and a final ``choices: []`` usage
      chunk; first delta ``{"role":"assistant","content":"","refusal":null}``; a streamed tool call
      whose first chunk carries role + id/type/name with ``arguments: ""`` and whose continuation
      deltas carry only ``index`` and argument pieces; n>1 streams interleaved by choice index.
    * Semantics: ``n``, ``stop`` (content cut before the stop string, finish ``stop``),
      ``max_tokens``/``max_completion_tokens`` (finish ``length``, completion_tokens <= limit),
      usage sums, tool_choice auto/none/required/named (named -> finish_reason ``stop``, as OpenAI
      answers), ``parallel_tool_calls: false``, tool arguments generated from the tool's JSON
      schema, ``response_format`` json_object / json_schema (content valid against the schema),
      multi-turn tool round trips, image parts (data: URLs checked), developer/system roles,
      content as arrays of text parts.
    * Errors (status, type, param, code, wording) as OpenAI sends them, all before any SSE byte:
      401 invalid/missing key, malformed JSON, unknown model (404), wrong types, out-of-range
      numbers, bad enum values, missing/empty parameters, unknown parameters, stream_options
      without stream, json_schema without name, json_object without the word "json", malformed
      image data URLs, context length (prompt > 128000 tokens), embeddings "" and [].
    * Token counting is a stand-in BPE: words split into pieces of at most 4 letters (leading
      space attached), punctuation alone; prompt = 3 per message + 3. So a huge message counts
      about chars/4 tokens.

Faults (suite self-test): ``http://127.0.0.1:PORT/fault/<name>/v1/...`` answers like ``/v1/...``
with one break; names are in FAULTS below.

Sources (see /tmp/research/openai-facts.md for the detail): openai-python
src/openai/_streaming.py, src/openai/lib/streaming/_deltas.py,
src/openai/lib/streaming/chat/_completions.py and the live recordings behind
tests/lib/chat/test_completions*.py (.inline-snapshot/external/*.bin); openai-openapi
openapi.yaml (CreateChatCompletionResponse/StreamResponse); live captures quoted in public
issues: vllm-project/vllm#25054 (named tool_choice -> "stop"), litellm#5803 (stream_options),
CopilotKit#529 (empty messages), databricks-ai-bridge#211 (json_schema name), OmniSearch#3
(image URL), sycamore#943 and openai-python#576 (embeddings ""), NextChat#4064 (malformed JSON),
continuedev/continue#11409 (invalid key), langchain_dart#712 (unrecognized argument),
litellm exception_mapping_utils (decimal_above_max_value). Behaviours marked "uncertain" in
comments are best guesses where no live capture was found.

Use: ``server, base_url = start()`` (base_url has no /v1; ``stop(server)`` ends it), or
``python Tests/Client/openai_replay.py [--port N]`` which prints ``READY http://127.0.0.1:PORT``.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import itertools
import json
import math
import random
import re
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# ---------------------------------------------------------------- models and limits

CHAT_MODELS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o-mini-2024-07-18": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-2024-08-06": "gpt-4o-2024-08-06",
}
EMBEDDING_MODELS = {"text-embedding-3-small": 1536}
MODEL_CREATED = {
    "gpt-4o-mini": 1721172741, "gpt-4o-mini-2024-07-18": 1721172717,
    "gpt-4o": 1715367049, "gpt-4o-2024-08-06": 1722814719, "text-embedding-3-small": 1705948997,
}
FINGERPRINTS = {"gpt-4o-mini-2024-07-18": "fp_560af6e559", "gpt-4o-2024-08-06": "fp_7eeb46f068"}
CONTEXT_WINDOW = 128000
MAX_OUTPUT_TOKENS = 16384
EMBEDDING_MAX_INPUTS = 2048
OVERHEAD_PER_MESSAGE = 3
REPLY_PRIMING = 3
IMAGE_TOKENS = 85
REQUEST_COUNTER = itertools.count()

CHAT_PARAMETERS = {
    "model", "messages", "audio", "frequency_penalty", "function_call", "functions", "logit_bias",
    "logprobs", "max_completion_tokens", "max_tokens", "metadata", "modalities", "n",
    "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key", "response_format",
    "safety_identifier", "seed", "service_tier", "stop", "store", "stream", "stream_options",
    "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user", "web_search_options",
}  # reasoning_effort is refused for gpt-4o* as unrecognized (langchain_dart#712, 2025-06)
EMBEDDING_PARAMETERS = {"model", "input", "encoding_format", "dimensions", "user"}
ROLES = ("system", "assistant", "user", "function", "tool", "developer")

FAULTS = frozenset({
    "stream_choice_index_1", "repeated_tool_call_id", "tool_arguments_not_json", "json_mode_plain_text",
    "base64_not_decodable", "empty_float_vectors", "ragged_vectors", "base64_disagrees",
    "total_tokens_wrong", "max_tokens_ignored", "stop_ignored", "created_changes", "model_changes",
    "chunk_without_finish_reason", "n_ignored", "schema_violating_arguments",
    "error_after_content", "non_object_event", "finish_before_content", "base64_unpadded", "content_as_number",
    "created_as_string",
    # variants the official SDK tolerates
    "additive_fields", "sse_no_space", "sse_crlf",
})

# ---------------------------------------------------------------- errors


class ApiError(Exception):
    """An OpenAI error answer: HTTP status and the four fields of {"error": {...}}."""

    def __init__(self, status, message, param=None, code=None, kind="invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self):
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def bad(message, param=None, code=None):
    return ApiError(400, message, param, code)


def missing(param):
    return bad(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def json_type_name(value):
    """OpenAI's words for a JSON value's type ("a string", "a decimal number", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def wrong_type(param, expected, value):
    return bad(f"Invalid type for '{param}': expected {expected}, but got {json_type_name(value)} instead.",
               param, "invalid_type")


def bad_value(param, value, supported):
    listed = ", ".join(f"'{s}'" for s in supported[:-1]) + f", and '{supported[-1]}'" if len(supported) > 2 \
        else " and ".join(f"'{s}'" for s in supported)
    return bad(f"Invalid value: '{value}'. Supported values are: {listed}.", param, "invalid_value")


def masked_key(key):
    """OpenAI echoes a wrong key as its first 8 and last 4 characters around asterisks."""
    if len(key) <= 12:
        return key[:2] + "*" * max(len(key) - 2, 0)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def check_auth(header):
    if not header or not header.lower().startswith("bearer ") or not header[7:].strip():
        raise ApiError(401, "You didn't provide an API key. You need to provide your API key in an "
                       "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the "
                       "password field (with blank username) if you're accessing the API from your browser and are "
                       "prompted for a username and password. You can obtain an API key from "
                       "https://platform.openai.com/account/api-keys.")
    key = header[7:].strip()
    if not key.startswith("sk-test"):
        raise ApiError(401, f"Incorrect API key provided: {masked_key(key)}. You can find your API key at "
                       "https://platform.openai.com/account/api-keys.", code="invalid_api_key")


def parse_json_body(raw):
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise bad("We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
                  "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
                  "valid JSON. If you have trouble figuring out how to fix this, please contact us through our "
                  "help center at help.openai.com.)")
    if not isinstance(body, dict):  # uncertain wording for a non-object top level
        raise bad(f"Invalid type for body: expected an object, but got {json_type_name(body)} instead.",
                  None, "invalid_type")
    return body

# ---------------------------------------------------------------- tokens

TOKEN_RE = re.compile(r" ?[A-Za-z0-9_']{1,4}| ?[^\sA-Za-z0-9_']|\s+")


def tokens(text):
    """Splits text into token pieces whose concatenation is the text."""
    return TOKEN_RE.findall(text)


def message_text(content):
    """The text of a message's content (a string, or text parts); images contribute no text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def image_count(content):
    return sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url") \
        if isinstance(content, list) else 0


def prompt_tokens(body):
    total = REPLY_PRIMING
    for message in body["messages"]:
        total += OVERHEAD_PER_MESSAGE + len(tokens(message_text(message.get("content"))))
        total += IMAGE_TOKENS * image_count(message.get("content"))
        for call in message.get("tool_calls") or []:
            total += len(tokens(json.dumps(call.get("function", {}))))
    if body.get("tools"):
        total += len(tokens(json.dumps(body["tools"])))
    if isinstance(body.get("response_format"), dict) and body["response_format"].get("type") == "json_schema":
        total += len(tokens(json.dumps(body["response_format"].get("json_schema", {}))))
    return total


def usage_object(prompt, completion, faults):
    total = prompt + completion + (1 if "total_tokens_wrong" in faults else 0)
    return {
        "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }

# ---------------------------------------------------------------- values from JSON schemas


def resolve_ref(schema, root):
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node = root
    for part in ref[2:].split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node


def sample_string(schema, hint):
    fmt = schema.get("format")
    value = {"date": "2024-01-01", "date-time": "2024-01-01T00:00:00Z", "time": "00:00:00",
             "email": "user@example.com", "uuid": "00000000-0000-4000-8000-000000000000",
             "uri": "https://example.com"}.get(fmt, hint)
    minimum = schema.get("minLength", 0)
    if len(value) < minimum:
        value += "x" * (minimum - len(value))
    if "maxLength" in schema:
        value = value[: schema["maxLength"]]
    return value


def sample_number(schema, integral):
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + (1 if "exclusiveMinimum" in schema else 0))
    high = schema.get("maximum", schema.get("exclusiveMaximum", math.inf) - (1 if "exclusiveMaximum" in schema else 0))
    value = min(max(1, low), high)
    return int(math.ceil(value)) if integral else value


def sample(schema, root, hint, depth=0):
    """A value valid against `schema` (the subset strict mode allows): required properties filled by type."""
    if not isinstance(schema, dict) or depth > 12:
        return None
    schema = resolve_ref(schema, root)
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            branches = [b for b in schema[key] if resolve_ref(b, root).get("type") != "null"] or schema[key]
            return sample(branches[0], root, hint, depth + 1)
    if schema.get("allOf"):
        merged = {}
        for part in schema["allOf"]:
            merged.update(resolve_ref(part, root))
        return sample(merged, root, hint, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: sample(properties.get(name, {}), root, hint, depth + 1)
                for name in schema.get("required", []) if name in properties or not properties}
    if kind == "array":
        count = max(schema.get("minItems", 1), 1)
        count = min(count, schema.get("maxItems", count))
        return [sample(schema.get("items", {}), root, hint, depth + 1) for _ in range(count)]
    if kind == "integer":
        return sample_number(schema, True)
    if kind == "number":
        return sample_number(schema, False)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return sample_string(schema, hint)


def string_hint(text):
    """A plausible string argument: the last capitalised word of the user's text, else "example"."""
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", text)
    capitalised = [w for w in words[1:] if w[0].isupper()]
    return capitalised[-1] if capitalised else "example"

# ---------------------------------------------------------------- request validation


def check_number(body, name, low, high, integral=False):
    if name not in body or body[name] is None:
        return
    value = body[name]
    if integral:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong_type(name, "an integer", value)
        word = "integer"
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong_type(name, "a decimal", value)
        word = "decimal"
    shown = value
    if low is not None and value < low:
        raise bad(f"Invalid '{name}': {word} below minimum value. Expected a value >= {low}, but got {shown} "
                  "instead.", name, f"{word}_below_min_value")
    if high is not None and value > high:
        raise bad(f"Invalid '{name}': {word} above maximum value. Expected a value <= {high}, but got {shown} "
                  "instead.", name, f"{word}_above_max_value")


def check_boolean(body, name):
    if body.get(name) is not None and not isinstance(body[name], bool):
        raise wrong_type(name, "a boolean", body[name])


def check_unknown(body, known):
    for name in body:
        if name not in known:
            raise bad(f"Unrecognized request argument supplied: {name}")


def check_model(body):
    if "model" not in body or body["model"] is None:
        raise missing("model")
    if not isinstance(body["model"], str):
        raise wrong_type("model", "a string", body["model"])
    return body["model"]


def unknown_model(model):
    return ApiError(404, f"The model `{model}` does not exist or you do not have access to it.",
                    None, "model_not_found")


def check_image_url(url, param):
    """OpenAI's checks of an image_url.url (data: URLs are decoded; remote URLs are not fetched here)."""
    prefix = f"Invalid image URL: '{param}'. Expected a base64-encoded data URL with an image MIME type " \
             "(e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got "
    if not isinstance(url, str):
        raise wrong_type(param, "a string", url)
    if url.startswith(("http://", "https://")):
        return check_remote_image(url)
    if not url.startswith("data:"):
        raise bad(prefix + "a value without the 'data:' prefix.", param, "invalid_value")
    header, sep, payload = url[5:].partition(",")
    if not sep or not header.endswith(";base64") or not header.startswith("image/"):
        raise bad(prefix + "an invalid data URL.", param, "invalid_value")  # uncertain wording
    if not payload:
        raise bad(prefix + "empty base64-encoded bytes.", param, "invalid_value")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise bad(prefix + "an invalid base64-encoded value.", param, "invalid_value")
    if not data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")) and data[8:12] != b"WEBP":
        # uncertain: older wording for decodable bytes that are no supported image
        raise bad("You uploaded an unsupported image. Please make sure your image is below 20 MB in size and is "
                  "of one the following formats: ['png', 'jpeg', 'gif', 'webp'].", None, "invalid_image_format")


def check_remote_image(url):
    """OpenAI downloads remote images; hosts it cannot reach fail. Here: IP literals in private ranges."""
    host = urlsplit(url).hostname or ""
    private = re.match(r"^(127\.|10\.|169\.254\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|0\.)", host) \
        or host in ("localhost", "::1")
    if private:  # uncertain wording/param; seen as 'Error while downloading <url>.' param url
        raise bad(f"Error while downloading {url}.", "url", "invalid_image_url")


def check_content(content, role, index):
    param = f"messages[{index}].content"
    if content is None:
        if role == "assistant":
            return
        raise wrong_type(param, "one of a string or array of objects", content)
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise wrong_type(param, "one of a string or array of objects", content)
    for j, part in enumerate(content):
        where = f"{param}[{j}]"
        if not isinstance(part, dict):
            raise wrong_type(where, "an object", part)
        kind = part.get("type")
        if kind is None:
            raise missing(f"{where}.type")
        allowed = {"user": ("text", "image_url", "input_audio", "file"), "assistant": ("text", "refusal")}.get(role, ("text",))
        if kind not in allowed:
            raise bad_value(f"{where}.type", kind, list(allowed))
        if kind == "text" and not isinstance(part.get("text"), str):
            raise missing(f"{where}.text") if "text" not in part else wrong_type(f"{where}.text", "a string",
                                                                                 part["text"])
        if kind == "image_url":
            image = part.get("image_url")
            if not isinstance(image, dict) or "url" not in image:
                raise missing(f"{where}.image_url.url" if isinstance(image, dict) else f"{where}.image_url")
            check_image_url(image["url"], f"{where}.image_url.url")


def check_messages(body):
    if "messages" not in body or body["messages"] is None:
        raise missing("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise wrong_type("messages", "an array of objects", messages)
    if not messages:
        raise bad("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty "
                  "array instead.", "messages", "empty_array")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise wrong_type(f"messages[{i}]", "an object", message)
        role = message.get("role")
        if role is None:
            raise missing(f"messages[{i}].role")
        if role not in ROLES:
            raise bad_value(f"messages[{i}].role", role, list(ROLES))
        if "content" not in message and not (role == "assistant" and message.get("tool_calls")):
            raise missing(f"messages[{i}].content")
        check_content(message.get("content"), role, i)
        if role == "tool" and not message.get("tool_call_id"):
            raise missing(f"messages[{i}].tool_call_id")
    check_tool_turns(messages)


def check_tool_turns(messages):
    """Every assistant tool call is answered by tool messages, and every tool message answers one."""
    pending, opener = set(), None
    for i, message in enumerate(messages):
        if message["role"] == "tool":
            if message.get("tool_call_id") not in pending:
                raise bad("Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                          "message with 'tool_calls'.", f"messages.[{i}].role")
            pending.discard(message["tool_call_id"])
            continue
        if pending:
            raise unanswered(opener, pending)
        if message["role"] == "assistant" and message.get("tool_calls"):
            opener = i
            pending = {c.get("id") for c in message["tool_calls"] if isinstance(c, dict)}
    if pending:
        raise unanswered(opener, pending)


def unanswered(index, ids):
    return bad("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
               "'tool_call_id'. The following tool_call_ids did not have response messages: "
               + ", ".join(sorted(i for i in ids if i)), f"messages.[{index}].role")


def check_stop(body):
    stop = body.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    if not isinstance(stop, list):
        raise wrong_type("stop", "one of a string or array of strings", stop)
    if len(stop) > 4:
        raise bad(f"Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array "
                  f"with length {len(stop)} instead.", "stop", "array_above_max_length")
    for i, item in enumerate(stop):
        if not isinstance(item, str):
            raise wrong_type(f"stop[{i}]", "a string", item)
    return stop


def check_tools(body):
    tools = body.get("tools")
    if tools is None:
        if body.get("tool_choice") is not None:
            raise bad("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                      "tool_choice")
        if body.get("parallel_tool_calls") is not None:
            raise bad("Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' "
                      "are specified.", "parallel_tool_calls")
        return []
    if not isinstance(tools, list):
        raise wrong_type("tools", "an array of objects", tools)
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise wrong_type(f"tools[{i}]", "an object", tool)
        if tool.get("type", "function") != "function":
            raise bad_value(f"tools[{i}].type", tool.get("type"), ["function", "custom"])
        function = tool.get("function")
        if not isinstance(function, dict):
            raise missing(f"tools[{i}].function")
        name = function.get("name")
        if not isinstance(name, str):
            raise missing(f"tools[{i}].function.name")
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
            raise bad(f"Invalid 'tools[{i}].function.name': string does not match pattern. Expected a string that "
                      "matches the pattern '^[a-zA-Z0-9_-]+$'.", f"tools[{i}].function.name", "invalid_value")
    return tools


def check_tool_choice(body, tools):
    choice = body.get("tool_choice")
    if choice is None:
        return "auto" if tools else "none"
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise bad_value("tool_choice", choice, ["none", "auto", "required"])
        return choice
    if not isinstance(choice, dict):
        raise wrong_type("tool_choice", "one of a string or object", choice)
    name = (choice.get("function") or {}).get("name")
    if not isinstance(name, str):
        raise missing("tool_choice.function.name")
    if name not in [t["function"]["name"] for t in tools]:  # uncertain wording
        raise bad(f"Invalid value for 'tool_choice': tool '{name}' not found in 'tools'.", "tool_choice")
    return {"name": name}


def check_response_format(body):
    fmt = body.get("response_format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise wrong_type("response_format", "an object", fmt)
    kind = fmt.get("type")
    if kind is None:
        raise missing("response_format.type")
    if kind not in ("text", "json_object", "json_schema"):
        raise bad_value("response_format.type", kind, ["json_object", "json_schema", "text"])
    if kind == "json_object":
        texts = " ".join(message_text(m.get("content")) for m in body["messages"])
        if "json" not in texts.lower():
            raise bad("'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                      "'json_object'.", "messages")
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict):
            raise missing("response_format.json_schema")
        if not isinstance(spec.get("name"), str):
            raise missing("response_format.json_schema.name")
        if spec.get("strict"):
            check_strict_schema(spec.get("schema") or {}, spec["name"], ())
    return fmt


def check_strict_schema(schema, name, context):
    """Strict mode: every object closes additionalProperties and requires all its properties."""
    if not isinstance(schema, dict):
        return
    where = f"Invalid schema for response_format '{name}': In context={context}, "
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            raise bad(where + "'additionalProperties' is required to be supplied and to be false.", "response_format")
        props = schema.get("properties") or {}
        absent = [p for p in props if p not in (schema.get("required") or [])]
        if absent:
            raise bad(where + "'required' is required to be supplied and to be an array including every key in "
                      f"properties. Missing '{absent[0]}'.", "response_format")
        for key, sub in props.items():
            check_strict_schema(sub, name, context + ("properties", key))
    if isinstance(schema.get("items"), dict):
        check_strict_schema(schema["items"], name, context + ("items",))
    for group in ("anyOf", "$defs", "definitions"):
        entries = schema.get(group)
        for key, sub in (entries.items() if isinstance(entries, dict) else enumerate(entries or [])):
            check_strict_schema(sub, name, context + (group, str(key)))


def max_tokens_of(body):
    for name in ("max_completion_tokens", "max_tokens"):
        check_number(body, name, 1, None, integral=True)
        if body.get(name) is not None and body[name] > MAX_OUTPUT_TOKENS:
            raise bad(f"max_tokens is too large: {body[name]}. This model supports at most {MAX_OUTPUT_TOKENS} "
                      f"completion tokens, whereas you provided {body[name]}.", name, "invalid_value")
    value = body.get("max_completion_tokens")
    return value if value is not None else body.get("max_tokens")


def validate_chat(body):
    """Checks a chat request as OpenAI does; returns the parsed options. Raises ApiError."""
    check_unknown(body, CHAT_PARAMETERS)
    model = check_model(body)
    check_messages(body)
    check_number(body, "temperature", 0, 2)
    check_number(body, "top_p", 0, 1)
    check_number(body, "presence_penalty", -2, 2)
    check_number(body, "frequency_penalty", -2, 2)
    check_number(body, "n", 1, 128, integral=True)
    check_number(body, "top_logprobs", 0, 20, integral=True)
    check_number(body, "seed", None, None, integral=True)
    for flag in ("stream", "logprobs", "parallel_tool_calls", "store"):
        check_boolean(body, flag)
    stream_options = body.get("stream_options")
    if stream_options is not None:
        if not body.get("stream"):
            raise bad("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
        if not isinstance(stream_options, dict):
            raise wrong_type("stream_options", "an object", stream_options)
    stop = check_stop(body)
    tools = check_tools(body)
    choice = check_tool_choice(body, tools)
    fmt = check_response_format(body)
    limit = max_tokens_of(body)
    if model not in CHAT_MODELS:
        raise unknown_model(model)
    prompt = prompt_tokens(body)
    check_context(prompt, limit)
    return {
        "model": CHAT_MODELS[model], "stream": bool(body.get("stream")), "n": body.get("n") or 1, "stop": stop,
        "tools": tools, "tool_choice": choice, "parallel": body.get("parallel_tool_calls") is not False,
        "format": fmt, "limit": limit, "prompt": prompt, "logprobs": bool(body.get("logprobs")),
        "top_logprobs": body.get("top_logprobs") or 0, "options": stream_options or {},
        "service_tier": "priority" if body.get("service_tier") == "priority" else "default",
    }


def check_context(prompt, limit):
    if prompt > CONTEXT_WINDOW:
        raise bad(f"This model's maximum context length is {CONTEXT_WINDOW} tokens. However, your messages "
                  f"resulted in {prompt} tokens. Please reduce the length of the messages.",
                  "messages", "context_length_exceeded")
    if limit is not None and prompt + limit > CONTEXT_WINDOW:
        raise bad(f"This model's maximum context length is {CONTEXT_WINDOW} tokens. However, you requested "
                  f"{prompt + limit} tokens ({prompt} in the messages, {limit} in the completion). Please reduce "
                  "the length of the messages or completion.", "messages", "context_length_exceeded")

# ---------------------------------------------------------------- chat: what the model answers


def last_user_text(messages):
    for message in reversed(messages):
        if message["role"] == "user":
            return message_text(message.get("content")).strip()
    return ""


def answer_text(messages):
    """The deterministic answer: an echo of the user, or a summary after tool results."""
    if messages[-1]["role"] == "tool":
        results = [message_text(m.get("content")) for m in messages if m["role"] == "tool"]
        return "Based on the tool results: " + "; ".join(results)
    images = sum(image_count(m.get("content")) for m in messages if m["role"] == "user")
    suffix = f" [{images} image{'s' if images > 1 else ''}]" if images else ""
    return "Echo: " + last_user_text(messages) + suffix


def structured_text(fmt, text, faults):
    """Content for response_format json_object / json_schema (or prose under the json_mode fault)."""
    if "json_mode_plain_text" in faults:
        return "Sure! Here is what you asked for: " + text
    if fmt["type"] == "json_object":
        return json.dumps({"message": text}, ensure_ascii=False, separators=(",", ":"))
    spec = fmt["json_schema"]
    schema = spec.get("schema") or {"type": "object", "properties": {}}
    value = sample(schema, schema, string_hint(text) if text else "example")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def limited_text(content, stop, limit, faults):
    """Applies stop strings then the token limit; returns (pieces, finish_reason)."""
    if stop and "stop_ignored" not in faults:
        cuts = [content.find(s) for s in stop if s and content.find(s) >= 0]
        if cuts:
            content = content[: min(cuts)]
            pieces = tokens(content)
            if limit is None or len(pieces) <= limit:
                return pieces, "stop"
    if "max_tokens_ignored" in faults and limit is not None:
        filler = " lorem ipsum dolor sit amet" * 20
        return tokens(content + filler)[:50], "stop"
    pieces = tokens(content)
    if limit is not None and len(pieces) > limit:
        return pieces[:limit], "length"
    return pieces, "stop"


def call_id(seed, index):
    digest = hashlib.sha256(f"{seed}/{index}".encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "call_" + "".join(alphabet[b % len(alphabet)] for b in digest[:24])


def chosen_tools(opts, messages):
    """Which tools the model calls: by tool_choice, else those named in the user's last message."""
    tools, choice = opts["tools"], opts["tool_choice"]
    if not tools or choice == "none" or messages[-1]["role"] == "tool":
        return []
    if isinstance(choice, dict):
        return [t for t in tools if t["function"]["name"] == choice["name"]][:1]
    text = last_user_text(messages)
    named = [t for t in tools if re.search(r"(?<![A-Za-z0-9_])" + re.escape(t["function"]["name"])
                                           + r"(?![A-Za-z0-9_])", text)]
    if not named and choice == "required":
        named = tools[:1]
    return named if opts["parallel"] else named[:1]


def tool_arguments(tool, text, faults):
    schema = tool["function"].get("parameters") or {"type": "object", "properties": {}}
    if "tool_arguments_not_json" in faults:
        return "city: " + string_hint(text)
    value = sample(schema, schema, string_hint(text))
    if "schema_violating_arguments" in faults and isinstance(value, dict):
        required = schema.get("required") or []
        value = {k: v for k, v in value.items() if k not in required[:1]} if required else {"unexpected": True}
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def plan_choice(opts, messages, seed, index, faults):
    """One choice: {"calls": [...]} or {"pieces": [...]}, with its finish_reason and token count."""
    calls = chosen_tools(opts, messages)
    text = last_user_text(messages)
    if calls:
        planned = [{"id": call_id(seed, f"{index}/{k}"), "name": t["function"]["name"],
                    "arguments": tool_arguments(t, text, faults)} for k, t in enumerate(calls)]
        used = sum(len(tokens(c["name"])) + len(tokens(c["arguments"])) + 3 for c in planned)
        finish = "stop" if isinstance(opts["tool_choice"], dict) else "tool_calls"
        return {"calls": planned, "finish": finish, "tokens": used}
    content = answer_text(messages)
    fmt = opts["format"]
    if fmt and fmt["type"] in ("json_object", "json_schema"):
        content = structured_text(fmt, content, faults)
    pieces, finish = limited_text(content, opts["stop"], opts["limit"], faults)
    return {"pieces": pieces, "finish": finish, "tokens": len(pieces)}


def plan_completion(opts, messages, seed, faults):
    count = 1 if "n_ignored" in faults else opts["n"]
    return [plan_choice(opts, messages, seed, i, faults) for i in range(count)]

# ---------------------------------------------------------------- chat: rendering


def completion_id(seed):
    digest = hashlib.sha256(("chatcmpl/" + seed).encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "chatcmpl-" + "".join(alphabet[b % len(alphabet)] for b in digest[:29])


def token_logprob(piece, top):
    raw = list(piece.encode("utf-8"))
    entry = {"token": piece, "logprob": -0.0001, "bytes": raw, "top_logprobs": []}
    entry["top_logprobs"] = [{"token": piece, "logprob": -0.0001, "bytes": raw}][:top]
    return entry


def message_of(plan, faults):
    if "calls" in plan:
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in plan["calls"]], "refusal": None, "annotations": []}
    else:
        message = {"role": "assistant", "content": "".join(plan["pieces"]), "refusal": None, "annotations": []}
    if "additive_fields" in faults:
        message["provider_specific_fields"] = {}
    return message


def completion_body(opts, plans, seed, faults):
    choices = []
    for i, plan in enumerate(plans):
        logprobs = None
        if opts["logprobs"] and "pieces" in plan:
            logprobs = {"content": [token_logprob(p, opts["top_logprobs"]) for p in plan["pieces"]], "refusal": None}
        choice = {"index": i, "message": message_of(plan, faults), "logprobs": logprobs,
                  "finish_reason": plan["finish"]}
        if "additive_fields" in faults:
            choice["stop_reason"] = None
        choices.append(choice)
    completion = sum(p["tokens"] for p in plans)
    return {
        "id": completion_id(seed), "object": "chat.completion", "created": int(time.time()), "model": opts["model"],
        "choices": choices, "usage": usage_object(opts["prompt"], completion, faults),
        "service_tier": opts["service_tier"], "system_fingerprint": FINGERPRINTS[opts["model"]],
    }


def choice_steps(plan, opts, faults):
    """The deltas of one choice, in order: (delta, logprobs, finish_reason)."""
    logs = opts["logprobs"]
    if "calls" in plan:
        return tool_steps(plan, faults)
    steps = [({"role": "assistant", "content": "", "refusal": None},
              {"content": [], "refusal": None} if logs else None, None)]
    for piece in plan["pieces"]:
        steps.append(({"content": piece},
                      {"content": [token_logprob(piece, opts["top_logprobs"])], "refusal": None} if logs else None,
                      None))
    steps.append(({}, None, plan["finish"]))
    return steps


def tool_steps(plan, faults):
    """A streamed tool call as OpenAI frames it: role + call header, then argument pieces by index only."""
    calls, steps = plan["calls"], []
    if len(calls) > 1:
        steps.append(({"role": "assistant", "content": None, "refusal": None}, None, None))
    for k, call in enumerate(calls):
        header = {"index": k, "id": call["id"], "type": "function",
                  "function": {"name": call["name"], "arguments": ""}}
        delta = {"tool_calls": [header]}
        if k == 0 and len(calls) == 1:
            delta = {"role": "assistant", "content": None, "tool_calls": [header], "refusal": None}
        steps.append((delta, None, None))
        for piece in tokens(call["arguments"]):
            entry = {"index": k, "function": {"arguments": piece}}
            if "repeated_tool_call_id" in faults:
                entry = {"index": k, "id": call["id"], "type": "function",
                         "function": {"name": call["name"], "arguments": piece}}
            steps.append(({"tool_calls": [entry]}, None, None))
    steps.append(({}, None, plan["finish"]))
    return steps


def interleave(per_choice):
    """Round-robin over the choices' steps, as OpenAI interleaves n>1 streams."""
    out, longest = [], max(len(s) for s in per_choice)
    for k in range(longest):
        for i, steps in enumerate(per_choice):
            if k < len(steps):
                out.append((i, steps[k]))
    return out


def obfuscation(seed, n):
    digest = hashlib.sha256(f"obf/{seed}/{n}".encode()).hexdigest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    length = int(digest[:2], 16) % 16
    return "".join(alphabet[int(digest[2 + 2 * j: 4 + 2 * j], 16) % 62] for j in range(length))


def stream_chunks(opts, plans, seed, faults):
    """Every chunk of the SSE answer, in order (dicts), usage chunk included when asked for."""
    created, model = int(time.time()), opts["model"]
    include_usage = bool(opts["options"].get("include_usage"))
    include_obfuscation = opts["options"].get("include_obfuscation", True) is not False
    per_choice = [choice_steps(plan, opts, faults) for plan in plans]
    chunks = []
    for n, (i, (delta, logprobs, finish)) in enumerate(interleave(per_choice)):
        if "additive_fields" in faults:
            delta = dict(delta, provider_specific_fields={})
        choice = {"index": i + 1 if "stream_choice_index_1" in faults else i, "delta": delta,
                  "logprobs": logprobs, "finish_reason": finish}
        if "additive_fields" in faults:
            choice["stop_reason"] = None
        if "chunk_without_finish_reason" in faults and finish is None:
            del choice["finish_reason"]
        chunks.append(chunk_envelope(seed, created, model, opts, [choice], include_usage, n, faults))
    if include_usage:
        usage = usage_object(opts["prompt"], sum(p["tokens"] for p in plans), faults)
        last = chunk_envelope(seed, created, model, opts, [], True, len(chunks), faults)
        last["usage"] = usage
        chunks.append(last)
    if include_obfuscation:
        for n, chunk in enumerate(chunks):
            chunk["obfuscation"] = obfuscation(seed, n)
    return chunks


def break_stream(chunks, faults):
    """The stream faults that rearrange whole chunks (payloads given as str are sent verbatim)."""
    if "error_after_content" in faults:
        chunks = chunks + [{"error": {"message": "The server is overloaded.", "type": "server_error", "param": None, "code": None}}]
    content = [i for i, c in enumerate(chunks) if c.get("choices") and c["choices"][0]["delta"].get("content")]
    if "finish_before_content" in faults and len(content) >= 2:
        chunks[content[-2]]["choices"][0]["finish_reason"] = "stop"
        for c in chunks[content[-2] + 1:]:
            if c.get("choices"):
                c["choices"][0]["finish_reason"] = None
    if "content_as_number" in faults and content:
        chunks[content[-1]]["choices"][0]["delta"]["content"] = 42
    if "created_as_string" in faults:
        for c in chunks:
            c["created"] = str(c["created"])
    if "non_object_event" in faults:
        chunks = chunks[:1] + ["null"] + chunks[1:]
    return chunks


def chunk_envelope(seed, created, model, opts, choices, include_usage, n, faults):
    if "created_changes" in faults:
        created += n
    if "model_changes" in faults and n % 2 == 1:
        model = "gpt-4o-2024-11-20" if model != "gpt-4o-2024-11-20" else "gpt-4o-2024-08-06"
    chunk = {"id": completion_id(seed), "object": "chat.completion.chunk", "created": created, "model": model,
             "service_tier": opts["service_tier"], "system_fingerprint": FINGERPRINTS[opts["model"]],
             "choices": choices}
    if include_usage:
        chunk["usage"] = None
    return chunk


def sse_frame(payload, faults):
    """One SSE event as OpenAI writes it: 'data: <json>' and a blank line."""
    prefix = "data:" if "sse_no_space" in faults else "data: "
    end = "\r\n" if "sse_crlf" in faults else "\n"
    return (prefix + payload + end + end).encode("utf-8")

# ---------------------------------------------------------------- embeddings


def validate_embeddings(body):
    check_unknown(body, EMBEDDING_PARAMETERS)
    model = check_model(body)
    if "input" not in body or body["input"] is None:
        raise missing("input")
    inputs = embedding_inputs(body["input"])
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise bad_value("encoding_format", fmt, ["float", "base64"])
    width = EMBEDDING_MODELS.get(model)
    check_number(body, "dimensions", 1, width, integral=True)
    if model not in EMBEDDING_MODELS:
        if model in CHAT_MODELS:  # uncertain wording for a chat model on the embeddings endpoint
            raise bad(f"This model does not support embeddings: {model}.", "model")
        raise unknown_model(model)
    return {"model": model, "inputs": inputs, "format": fmt, "width": body.get("dimensions") or width}


def embedding_inputs(value):
    """Normalises input to a list of strings / token lists, with OpenAI's errors for empty ones."""
    invalid = bad("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
    if isinstance(value, str):
        if not value:
            raise invalid
        return [value]
    if not isinstance(value, list):
        raise invalid
    if not value:
        raise bad("Invalid 'input': input cannot be an empty array.")  # code uncertain (null assumed)
    if len(value) > EMBEDDING_MAX_INPUTS:
        raise bad(f"Invalid 'input': array too long. Expected an array with maximum length {EMBEDDING_MAX_INPUTS}, "
                  f"but got an array with length {len(value)} instead.", "input", "array_above_max_length")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [tuple(value)]
    for item in value:
        ok = (isinstance(item, str) and item) or (isinstance(item, list) and item and all(
            isinstance(t, int) and not isinstance(t, bool) for t in item))
        if not ok:
            raise invalid
    return [v if isinstance(v, str) else tuple(v) for v in value]


def unit_vector(item, width):
    """A deterministic unit vector for an input, cut to `width` and renormalised, in float32 precision."""
    seed = hashlib.sha256(repr(item).encode("utf-8")).digest()
    rng = random.Random(seed)
    full = [rng.gauss(0.0, 1.0) for _ in range(max(EMBEDDING_MODELS.values()))][:width]
    norm = math.sqrt(sum(x * x for x in full)) or 1.0
    return [shortest_float32(x / norm) for x in full]


def shortest_float32(x):
    """x rounded to float32, as the shortest decimal that reads back as the same float32 (OpenAI's look)."""
    f32 = struct.unpack("<f", struct.pack("<f", x))[0]
    for digits in range(6, 10):
        candidate = float(f"{f32:.{digits}g}")
        if struct.unpack("<f", struct.pack("<f", candidate))[0] == f32:
            return candidate
    return f32


def embedding_tokens(item):
    return len(item) if isinstance(item, tuple) else len(tokens(item))


def encode_vector(vector, fmt, faults):
    if fmt == "float":
        return [] if "empty_float_vectors" in faults else vector
    if "base64_not_decodable" in faults:
        return "!!not*base64!!"
    if "base64_disagrees" in faults:
        vector = [-x for x in vector]
    encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return encoded.rstrip("=") if "base64_unpadded" in faults else encoded


def embeddings_body(opts, faults):
    data = []
    for i, item in enumerate(opts["inputs"]):
        width = opts["width"] - (i if "ragged_vectors" in faults else 0)
        vector = unit_vector(item, max(width, 1))
        data.append({"object": "embedding", "index": i, "embedding": encode_vector(vector, opts["format"], faults)})
    used = sum(embedding_tokens(item) for item in opts["inputs"])
    total = used + (1 if "total_tokens_wrong" in faults else 0)
    return {"object": "list", "data": data, "model": opts["model"],
            "usage": {"prompt_tokens": used, "total_tokens": total}}

# ---------------------------------------------------------------- models


def model_object(model_id):
    return {"id": model_id, "object": "model", "created": MODEL_CREATED[model_id], "owned_by": "system"}


def models_body():
    return {"object": "list", "data": [model_object(m) for m in MODEL_CREATED]}


def model_body(model_id):
    if model_id not in MODEL_CREATED:  # uncertain: retrieve quotes with '' and names param model
        raise ApiError(404, f"The model '{model_id}' does not exist", "model", "model_not_found")
    return model_object(model_id)

# ---------------------------------------------------------------- HTTP


def split_fault(path):
    """'/fault/<name>/v1/...' -> ('/v1/...', {name}); other paths -> (path, set())."""
    match = re.match(r"^/fault/([a-z0-9_]+)(/.*)$", path)
    if not match:
        return path, frozenset()
    return match.group(2), frozenset({match.group(1)})


class Handler(BaseHTTPRequestHandler):
    """Routes one request; every answer is JSON or (chat streams) SSE with chunked transfer."""

    protocol_version = "HTTP/1.1"
    server_version = "openai-replay"
    sys_version = ""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def dispatch(self):
        raw = self.read_body()
        path, faults = split_fault(self.path.split("?", 1)[0])
        try:
            if faults and not faults <= FAULTS:
                raise ApiError(404, f"Unknown fault: {next(iter(faults))}")
            self.route(path, raw, faults)
        except ApiError as error:
            self.send_json(error.status, error.body())

    def read_body(self):
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def route(self, path, raw, faults):
        check_auth(self.headers.get("authorization"))
        method = self.command
        if method == "POST" and path == "/v1/chat/completions":
            return self.chat(parse_json_body(raw), faults)
        if method == "POST" and path == "/v1/embeddings":
            return self.send_json(200, embeddings_body(validate_embeddings(parse_json_body(raw)), faults))
        if method == "GET" and path == "/v1/models":
            return self.send_json(200, models_body())
        if method == "GET" and path.startswith("/v1/models/"):
            return self.send_json(200, model_body(path[len("/v1/models/"):]))
        raise ApiError(404, f"Invalid URL ({method} {path})")

    def chat(self, body, faults):
        opts = validate_chat(body)
        # ids and obfuscation are unique per request; content depends only on the request
        seed = hashlib.sha256(f"{time.time_ns()}/{next(REQUEST_COUNTER)}".encode()).hexdigest()
        plans = plan_completion(opts, body["messages"], seed, faults)
        if not opts["stream"]:
            return self.send_json(200, completion_body(opts, plans, seed, faults))
        chunks = break_stream(stream_chunks(opts, plans, seed, faults), faults)
        self.send_sse([c if isinstance(c, str) else json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in chunks] + ["[DONE]"],
                      faults)

    def common_headers(self):
        self.send_header("x-request-id", "req_" + hashlib.md5(str(time.time_ns()).encode()).hexdigest())
        self.send_header("openai-version", "2020-10-01")
        self.send_header("openai-processing-ms", "12")

    def send_json(self, status, payload):
        data = json.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.common_headers()
        self.end_headers()
        self.wfile.write(data)

    def send_sse(self, payloads, faults):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("cache-control", "no-cache")
        self.common_headers()
        self.end_headers()
        for payload in payloads:
            frame = sse_frame(payload, faults)
            self.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class ReplayServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with daemon request threads; a client hanging up is not an error."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def start(port=0, host="127.0.0.1"):
    """Starts the server on a daemon thread; returns (server, base_url) where base_url has no /v1."""
    server = ReplayServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="openai-replay", daemon=True).start()
    return server, f"http://{host}:{server.server_port}"


def stop(server):
    server.shutdown()
    server.server_close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = ReplayServer(("127.0.0.1", args.port), Handler)
    print(f"READY http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
