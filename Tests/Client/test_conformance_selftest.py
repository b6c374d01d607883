"""The conformance suite must be able to fail. A fault-injecting proxy in front of a reference
Hub breaks one wire rule at a time; porten-conformance must pass on the unbroken proxy and, for
each broken rule, report exactly the affected case at the right layer with a precise diagnostic."""
import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from porten_fleet import Hub

SUITE = os.environ.get("PORTEN_CONFORMANCE_BIN", os.path.join(os.path.dirname(__file__), "../../.build/debug/porten-conformance"))
GOLDENS = os.path.join(os.path.dirname(__file__), "../../Golden")


def mutate(fault, method, body, status, headers, content):
    """Applies `fault` to one exchange; returns (request body, status, content)."""
    stream = headers.get("content-type", "").startswith("text/event-stream")
    text = content.decode()
    if fault == "missing_done" and stream:
        text = text.replace("data: [DONE]\n\n", "")
    elif fault == "event_line" and stream:
        text = "event: message\n" + text
    elif fault == "data_without_space" and stream:
        text = text.replace("data: ", "data:")
    elif fault == "crlf" and stream:
        text = text.replace("\n", "\r\n")
    elif fault == "additive_field" and not stream and '"object":"chat.completion"' in text:
        text = '{"provider_specific_fields":{},' + text[1:]
    elif fault == "changed_id" and stream:
        events = text.split("\n\n")
        events[-3] = re.sub(r'"id":"[^"]+"', '"id":"chatcmpl-other"', events[-3], count=1)
        text = "\n\n".join(events)
    elif fault == "tool_delta_without_index" and stream:
        text = text.replace('{"index":0,"function":', '{"function":')
    elif fault == "usage_chunk_with_choices" and stream:
        text = text.replace('"choices":[],"usage"', '"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":null}],"usage"')
    elif fault == "integer_error_code" and status >= 400:
        text = re.sub(r'"code":"[a-z_]+"', '"code":404', text)
    elif fault == "duplicate_key" and not stream and '"object":"chat.completion"' in text:
        text = '{"object":"chat.completion",' + text[1:]
    return status, text.encode()


class FaultProxy(BaseHTTPRequestHandler):
    upstream = ""
    fault = None

    def relay(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0)) or None
        if FaultProxy.fault == "500_on_malformed_body" and body is not None:
            try:
                json.loads(body)
            except ValueError:
                return self.answer(500, {"content-type": "application/json"}, b'{"error":{"message":"boom","type":"server_error","param":null,"code":null}}')
        if FaultProxy.fault == "n_ignored" and body and b'"n":2' in body:
            body = body.replace(b'"n":2', b'"n":1')
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        response = httpx.request(self.command, FaultProxy.upstream + self.path, headers=headers, content=body, timeout=60)
        lowered = {k.lower(): v for k, v in response.headers.items()}
        status, content = mutate(FaultProxy.fault, self.command, body, response.status_code, lowered, response.content)
        self.answer(status, lowered, content)

    def answer(self, status, headers, content):
        self.send_response(status)
        for name, value in headers.items():
            if name not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PATCH = do_DELETE = relay

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """A reference fleet (fixed + slow provisionable sim node) behind the fault proxy."""
    tmp_path = tmp_path_factory.mktemp("selftest")
    hub = Hub(tmp_path).start()
    account = hub.admin("POST", "accounts", json={"name": "conformance"})["id"]
    hub.api_key = hub.create_key(account)["key"]
    hub.add_node(account, tmp_path, name="fixed").start()
    hub.add_node(account, tmp_path, name="cold", extra_args=("--models", "", "--vram-budget-mb", "16000", "--sim-download-mbps", "5")).start()
    FaultProxy.upstream = hub.url
    server = ThreadingHTTPServer(("127.0.0.1", 0), FaultProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield hub, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    hub.stop()


def run_suite(proxied, tmp_path, *only, extra=()):
    hub, url = proxied
    report = tmp_path / "report.json"
    command = [SUITE, "run", "--profile", "reference", "--base-url", url + "/v1", "--api-key", hub.api_key, "--admin-token", hub.admin_token,
               "--goldens", GOLDENS, "--json", str(report), "--junit", str(tmp_path / "junit.xml"), *extra]
    for case in only:
        command += ["--only", case]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return completed, json.loads(report.read_text())


def test_the_unbroken_server_passes_every_case(proxied, tmp_path):
    FaultProxy.fault = None
    completed, report = run_suite(proxied, tmp_path)
    assert completed.returncode == 0, completed.stdout
    assert report["failed"] == 0 and report["skipped"] == 0 and report["passed"] == len(report["cases"]) >= 60
    assert "<testsuite" in (tmp_path / "junit.xml").read_text()


FAULTS = [
    # fault, the case it breaks, a case it leaves alone, layer, pointer, words of the diagnostic
    ("missing_done", "chat.stream.basic", "chat.basic", "framing", "", "no data: [DONE]"),
    ("event_line", "chat.stream.basic", "chat.basic", "framing", "", "'event: message' line"),
    ("changed_id", "chat.stream.basic", "chat.basic", "invariants", "/7/id", "id changed"),
    ("tool_delta_without_index", "chat.stream.tools", "chat.tools.basic", "invariants", "/tool_calls/0/index", "integer index"),
    ("usage_chunk_with_choices", "chat.stream.include_usage", "chat.stream.basic", "invariants", "/choices", "choices: []"),
    ("integer_error_code", "errors.model_not_found", "chat.basic", "body", "/error/code", "expected string, got integer"),
    ("duplicate_key", "chat.basic", "chat.stream.basic", "body", "", "duplicate"),
    # The reference is exact: a key the golden does not list fails (other profiles warn).
    ("additive_field", "chat.basic", "chat.stream.basic", "body", "/provider_specific_fields", "unexpected key"),
    ("n_ignored", "chat.n_greater_than_one", "chat.basic", "status", "", "expected status 400, got 200"),
    ("500_on_malformed_body", "errors.malformed_json", "errors.wrong_type", "status", "", "expected status 400, got 500"),
]


@pytest.mark.parametrize("fault,broken,intact,layer,pointer,words", FAULTS, ids=[f[0] for f in FAULTS])
def test_each_broken_rule_fails_exactly_its_case(proxied, tmp_path, fault, broken, intact, layer, pointer, words):
    FaultProxy.fault = fault
    try:
        completed, report = run_suite(proxied, tmp_path, broken, intact)
    finally:
        FaultProxy.fault = None
    assert completed.returncode == 1, completed.stdout
    verdicts = {case["id"]: case["verdict"] for case in report["cases"]}
    assert verdicts == {broken: "fail", intact: "pass"}, completed.stdout
    failures = [(l["layer"], f) for case in report["cases"] for l in case["layers"] for f in l["failures"]]
    assert any(name == layer and pointer in f["pointer"] and (words in f["reason"] or words in f["expected"] + " " + f["actual"] or words in str(f))
               for name, f in failures), json.dumps(failures, indent=1)
    assert broken in completed.stdout and f"FAIL [{layer}]" in completed.stdout


TOLERATED = [
    # SSE variants the official SDKs decode the same: a warning even for the reference, exit 0, exit 1 with --strict
    ("data_without_space", "chat.stream.basic", "framing", "without a space"),
    ("crlf", "chat.stream.basic", "framing", "CR line endings"),
]


@pytest.mark.parametrize("fault,case,layer,words", TOLERATED, ids=[f[0] for f in TOLERATED])
def test_what_the_sdks_tolerate_is_a_warning_that_strict_fails(proxied, tmp_path, fault, case, layer, words):
    FaultProxy.fault = fault
    try:
        completed, report = run_suite(proxied, tmp_path, case)
        strict, _ = run_suite(proxied, tmp_path, case, extra=("--strict",))
    finally:
        FaultProxy.fault = None
    assert completed.returncode == 0 and strict.returncode == 1, completed.stdout + strict.stdout
    (result,) = report["cases"]
    assert result["verdict"] == "warning", completed.stdout
    warnings = [w for l in result["layers"] if l["layer"] == layer for w in l["warnings"]]
    assert any(words in w["reason"] for w in warnings) and all(w["severity"] == "warn" for w in warnings), warnings
    assert f"WARN [{layer}]" in completed.stdout


def test_cli_usability(proxied, tmp_path):
    """From any directory, with the shipped goldens; no case selected is exit 2; a wrong status is one line."""
    hub, url = proxied
    listed = subprocess.run([SUITE, "list"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) >= 60
    none = subprocess.run([SUITE, "run", "--base-url", url, "--api-key", hub.api_key, "--only", "no.such.case*"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert none.returncode == 2 and "No golden matches" in none.stderr
    FaultProxy.fault = "500_on_malformed_body"
    try:
        completed, report = run_suite(proxied, tmp_path, "errors.malformed_json")
    finally:
        FaultProxy.fault = None
    (result,) = report["cases"]
    assert [(l["layer"], len(l["failures"])) for l in result["layers"] if l["failures"]] == [("status", 1)], completed.stdout
    assert '"boom"' in result["layers"][0]["failures"][0]["actual"]  # the unexpected body is shown, not compared
