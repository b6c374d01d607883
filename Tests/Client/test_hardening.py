"""Hardening regressions from a client's and a stranger's side (issue #18; docs/hardening.md):
numbers in headers and schemas, connection hygiene, names, files and defaults. The node side is
in test_hostile_node.py."""
import os
import socket
import stat
import subprocess
import time

import httpx
import pytest

from porten_fleet import PORTEN_BIN, Hub, Process, wait_until


def post(fleet, body, headers=None, timeout=20):
    return httpx.post(fleet.base_url + "/chat/completions", json=body, timeout=timeout,
                      headers={"Authorization": f"Bearer {fleet.api_key}", **(headers or {})})


def assert_openai_error(response, status, code=None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if code:
        assert error["code"] == code


PING = {"model": "ref-chat", "messages": [{"role": "user", "content": "ping"}]}


def still_serving(fleet):
    response = post(fleet, PING)
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "Echo: ping"


@pytest.mark.parametrize("value", ["1e16", "1e300", "9223372036854775807", "0x1p70", "inf", "-1", "nan"])
def test_warmup_budget_header_never_crashes_the_hub(fleet, value):
    response = post(fleet, PING, headers={"X-Porten-Warmup-Budget": value})
    if value in ("1e16", "1e300", "9223372036854775807"):
        assert response.status_code == 200  # the Hub's own budget
    else:
        assert_openai_error(response, 400, "invalid_header_value")
    still_serving(fleet)


@pytest.mark.parametrize("schema", [
    {"type": "array", "maxItems": -1, "items": {"type": "string"}},
    {"type": "integer", "minimum": 1e300},
    {"type": "object", "properties": {"n": {"maximum": -1e300, "type": "number"}}},
    {"type": "string", "maxLength": -5},
    {"type": "array", "minItems": 1_000_000_000, "items": {"type": "integer"}},
    {"type": "array", "minItems": 50, "items": {"type": "array", "minItems": 50, "items": {"type": "array", "minItems": 50, "items": {
        "type": "array", "minItems": 50, "items": {"type": "array", "minItems": 50, "items": {"type": "array", "minItems": 50}}}}}},
])
def test_hostile_schemas_get_a_bounded_answer(fleet, schema):
    # max_tokens keeps the answer short at this fleet's 5 ms per token; the instance behind it is
    # built whole (and bounded) before the first token either way.
    body = {"model": "ref-tools", "messages": [{"role": "user", "content": "x"}], "max_tokens": 64,
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}}
    response = post(fleet, body, timeout=30)
    assert response.status_code == 200, response.text
    assert len(response.content) < 2_000_000
    body = {"model": "ref-tools", "messages": [{"role": "user", "content": "call f"}], "max_tokens": 64, "tool_choice": {"type": "function", "function": {"name": "f"}},
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": schema}}}}]}
    assert post(fleet, body, timeout=30).status_code == 200
    still_serving(fleet)


def test_whitespace_runs_are_answered(fleet):
    content = " " * 200_000 + "end"
    response = post(fleet, {"model": "ref-chat", "messages": [{"role": "user", "content": content}], "max_tokens": 3}, timeout=30)
    # The whitespace run and the word after it are one token; each message costs 3 more.
    assert response.status_code == 200 and response.json()["usage"]["prompt_tokens"] == 4
    still_serving(fleet)


@pytest.fixture
def quick_hub(tmp_path):
    hub = Hub(tmp_path, extra_args=("--idle-timeout", "1", "--body-timeout", "2", "--max-connections", "40")).start()
    try:
        yield hub
    finally:
        hub.stop()


def open_socket(hub, payload=b""):
    sock = socket.create_connection(("127.0.0.1", hub.port), timeout=5)
    if payload:
        sock.sendall(payload)
    return sock


def closed_by_server(sock, within):
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("payload", [
    b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + os.urandom(32),
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mo",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    b"\r\n\r\n", b"\r\n\r\nG", b"BREW /pot HTTP/9.9\r\nno colon here\r\n\r\n", b"\x16\x03\x01\x00\x05hello\r\n\r\n",
    b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
])
def test_silent_and_half_finished_connections_are_closed(quick_hub, payload):
    sock = open_socket(quick_hub, payload)
    try:
        assert closed_by_server(sock, within=5)
    finally:
        sock.close()


@pytest.mark.parametrize("after_a_request", [False, True])
def test_a_body_dripped_byte_by_byte_is_cut_at_the_body_timeout(quick_hub, after_a_request):
    sock = open_socket(quick_hub)
    try:
        if after_a_request:
            # The second request of a keep-alive connection is held to the same deadline.
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 8 and not closed:
            try:
                sock.sendall(b"x")  # every 0.5 s: well within the 1 s idle timeout, so only the body timeout ends it
            except OSError:
                closed = True
                break
            closed = closed_by_server(sock, within=0.5)
        assert closed and time.monotonic() - started < 5
    finally:
        sock.close()


def test_the_connection_cap_holds_and_service_resumes(quick_hub):
    idle = [open_socket(quick_hub) for _ in range(60)]
    try:
        # Over the cap, new connections wait in the backlog until idle ones time out (1 s); then they are served.
        started = time.monotonic()
        assert httpx.get(quick_hub.url + "/healthz", timeout=15).status_code == 200
        assert time.monotonic() - started < 10
    finally:
        for sock in idle:
            sock.close()


def test_a_long_request_is_not_idle(quick_hub, tmp_path):
    """--idle-timeout does not cut a request that is being answered (a stream slower than the timeout)."""
    account = quick_hub.admin("POST", "accounts", json={"name": "t"})["id"]
    key = quick_hub.create_key(account)["key"]
    quick_hub.add_node(account, tmp_path, extra_args=("--token-delay-ms", "400")).start()
    with httpx.stream("POST", quick_hub.base_url + "/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                      json={"model": "ref-chat", "stream": True, "messages": [{"role": "user", "content": "a b c d e"}]}) as response:
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]" and len(lines) >= 8


@pytest.mark.parametrize("name", ["a\u0000b", "x" * 201, "", "line\nbreak"])
def test_admin_names_are_checked(fleet, name):
    response = httpx.post(fleet.url + "/admin/v1/accounts", json={"name": name}, headers={"Authorization": f"Bearer {fleet.admin_token}"})
    assert_openai_error(response, 400)
    assert response.json()["error"]["param"] == "name"


def test_data_directory_and_database_are_private(fleet):
    still_serving(fleet)
    assert stat.S_IMODE(os.stat(fleet.data_dir).st_mode) == 0o700
    files = [f for f in os.listdir(fleet.data_dir) if f.startswith("porten.db")]
    assert "porten.db" in files
    for name in files:
        assert stat.S_IMODE(os.stat(os.path.join(fleet.data_dir, name)).st_mode) == 0o600, name


def test_a_node_without_engine_does_not_serve_sim(tmp_path):
    """Without --engine and with no Ollama answering, the agent picks builtin (here: refused for want of llama-server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTEN_")}
    env["PATH"] = "/usr/bin:/bin"
    env["PORTEN_ENGINE_URL"] = "http://127.0.0.1:9"  # nothing answers there
    result = subprocess.run([PORTEN_BIN, "node", "--hub", "http://127.0.0.1:1", "--credential", "pnode-x"], capture_output=True, text=True,
                            env=env, timeout=20)
    assert result.returncode != 0 and "llama-server" in result.stderr


def test_the_credential_can_come_from_a_file(tmp_path, fleet):
    node = fleet.admin("POST", "nodes", json={"account_id": fleet.account_id, "name": "filed", "region": "eu"})
    path = tmp_path / "credential"
    path.write_text(node["credential"] + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTEN_")}
    process = Process([PORTEN_BIN, "node", "--hub", fleet.url, "--credential-file", path, "--engine", "sim"], tmp_path / "filed.log", env=env).start()
    try:
        wait_until(lambda: fleet.node_status(node["id"])["connected"], what="the node with a credential file")
        with open(f"/proc/{process.pid}/cmdline", "rb") as f:
            assert node["credential"].encode() not in f.read()
    finally:
        process.stop()
