"""The suite's verdicts are right in both directions. Against openai_replay (a server answering
as OpenAI's live API does, built from openai-python's recorded streams, its types and OpenAI's
documented errors) the `openai` profile passes every case with no warning; each way of breaking
the official SDK while keeping the goldens' shape fails its case at the right layer, while a
control case passes; and what the SDKs tolerate is a warning: exit 0, exit 1 with --strict."""
import json
import os
import subprocess

import pytest

from openai_replay import start, stop

SUITE = os.environ.get("PORTEN_CONFORMANCE_BIN", os.path.join(os.path.dirname(__file__), "../../.build/debug/porten-conformance"))
MODELS = ["--model", "chat=gpt-4o-mini", "--model", "tools=gpt-4o-mini", "--model", "vision=gpt-4o-mini", "--model", "embed=text-embedding-3-small"]


@pytest.fixture(scope="module")
def replay():
    server, base = start()
    yield base
    stop(server)


def suite(base, tmp_path, *args, fault=None):
    """Runs the suite with its shipped goldens, from a directory that holds none."""
    url = base + (f"/fault/{fault}" if fault else "") + "/v1"
    report = tmp_path / "report.json"
    completed = subprocess.run([SUITE, "run", "--base-url", url, "--api-key", "sk-test-conformance", *MODELS, "--json", str(report), *args],
                               capture_output=True, text=True, timeout=300, cwd=tmp_path)
    return completed, json.loads(report.read_text())


def test_a_server_that_answers_like_openai_passes_with_no_warning(replay, tmp_path):
    completed, report = suite(replay, tmp_path)
    assert completed.returncode == 0, completed.stdout
    assert report["profile"] == "openai"  # the default profile
    assert report["failed"] == 0 and report["warned"] == 0 and report["declared"] == 0, completed.stdout
    assert report["passed"] >= 50, completed.stdout
    # Only Porten-only cases and the reasoning role (OpenAI's chat API returns no reasoning text) are skipped.
    skipped = {c["id"]: c["skip_reason"] for c in report["cases"] if c["verdict"] == "skip"}
    assert all("profile reference" in reason or "'reasoner'" in reason for reason in skipped.values()), skipped


BREAKS = [
    # fault of the replay server, the case it must fail, layer, words of the diagnostic, a control case that must pass
    ("stream_choice_index_1", "chat.stream.basic", "invariants", "IndexError", "chat.basic"),
    ("repeated_tool_call_id", "chat.stream.tools", "invariants", "concatenates", "chat.tools.basic"),
    ("tool_arguments_not_json", "chat.tools.basic", "semantics", "not JSON", "chat.basic"),
    ("schema_violating_arguments", "chat.tools.basic", "semantics", "required property", "chat.tools.choice_none"),
    ("json_mode_plain_text", "chat.json_object", "semantics", "does not parse", "chat.basic"),
    ("json_mode_plain_text", "chat.json_schema", "semantics", "does not parse", "chat.stop"),
    ("base64_not_decodable", "embeddings.base64", "semantics", "base64", "embeddings.float"),
    ("base64_disagrees", "embeddings.base64", "semantics", "float answer", "embeddings.float"),
    ("empty_float_vectors", "embeddings.float", "semantics", "empty vector", "chat.basic"),
    ("ragged_vectors", "embeddings.batch", "semantics", "same width", "embeddings.dimensions"),
    ("total_tokens_wrong", "chat.basic", "semantics", "sum of its parts", "chat.stream.basic"),
    ("max_tokens_ignored", "chat.max_tokens_length", "semantics", "limit of", "chat.basic"),
    ("stop_ignored", "chat.stop", "semantics", "stop sequence", "chat.basic"),
    ("created_changes", "chat.stream.basic", "invariants", "created changed", "chat.basic"),
    ("model_changes", "chat.stream.basic", "invariants", "model changed", "chat.basic"),
    ("chunk_without_finish_reason", "chat.stream.basic", "invariants", "'finish_reason' key", "chat.basic"),
    ("n_ignored", "chat.n_greater_than_one", "body", "expected 2 elements, got 1", "chat.basic"),
    ("error_after_content", "chat.stream.basic", "events", "APIError", "chat.basic"),
    ("non_object_event", "chat.stream.basic", "invariants", "not a JSON object", "chat.basic"),
    ("finish_before_content", "chat.stream.basic", "invariants", "after this choice's finish_reason", "chat.basic"),
    ("base64_unpadded", "embeddings.base64_dimensions", "semantics", "base64", "embeddings.float"),
    ("content_as_number", "chat.stream.basic", "invariants", "string or null", "chat.basic"),
    ("created_as_string", "chat.stream.basic", "invariants", "is an integer", "chat.basic"),
]


@pytest.mark.parametrize("fault,broken,layer,words,control", BREAKS, ids=[f"{b[0]}-{b[1]}" for b in BREAKS])
def test_each_sdk_breaking_answer_fails_its_case(replay, tmp_path, fault, broken, layer, words, control):
    completed, report = suite(replay, tmp_path, "--only", broken, "--only", control, fault=fault)
    assert completed.returncode == 1, completed.stdout
    verdicts = {case["id"]: case["verdict"] for case in report["cases"]}
    assert verdicts == {broken: "fail", control: "pass"}, completed.stdout
    failures = [f for case in report["cases"] for l in case["layers"] if l["layer"] == layer for f in l["failures"]]
    assert any(words in f["reason"] or words in f["actual"] for f in failures), json.dumps(failures, indent=1)
    assert all(f["severity"] == "fail" for f in failures)


TOLERATED = [
    ("additive_fields", "chat.basic", "body", "unexpected key"),
    ("additive_fields", "chat.stream.basic", "reassembled", "unexpected key"),
    ("sse_no_space", "chat.stream.basic", "framing", "without a space"),
    ("sse_crlf", "chat.stream.tools", "framing", "CR line endings"),
]


@pytest.mark.parametrize("fault,case,layer,words", TOLERATED, ids=[f"{t[0]}-{t[1]}" for t in TOLERATED])
def test_what_the_sdks_tolerate_warns(replay, tmp_path, fault, case, layer, words):
    completed, report = suite(replay, tmp_path, "--only", case, fault=fault)
    assert completed.returncode == 0, completed.stdout
    (result,) = report["cases"]
    assert result["verdict"] == "warning", completed.stdout
    assert any(words in w["reason"] for l in result["layers"] if l["layer"] == layer for w in l["warnings"]), completed.stdout
    strict, _ = suite(replay, tmp_path, "--only", case, "--strict", fault=fault)
    assert strict.returncode == 1, strict.stdout
