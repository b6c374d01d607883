"""Run a node & earn, end to end: `porten login` polling in a subprocess while a person approves
the code in Chromium; the device flow's refusals (denied, expired, reused, too fast); enrollment
tokens (uses, expiry, revocation); node.json; the node started with no flags serving an
own-nodes-only key; `porten service install` (checked with systemd-analyze); and /install.sh run
in a temporary HOME against the Hub."""
import json
import os
import re
import stat
import subprocess
import time

import httpx
import pytest
from openai import OpenAI

from porten_fleet import PORTEN_BIN, Hub, Process, wait_until
from test_portal import browser, create_user, set_password_and_sign_in, shoot  # noqa: F401  (browser is a fixture)

GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def earn_hub(tmp_path):
    hub = Hub(
        tmp_path,
        extra_args=("--new-node-region", "eu", "--new-node-trust-class", "verified", "--device-poll-interval", "1", "--device-code-lifetime", "60"),
    ).start()
    try:
        account = hub.admin("POST", "accounts", json={"name": "Acme"})
        hub.account_id = account["id"]
        yield hub
    finally:
        hub.stop()


def machine_env(home, **extra):
    """A machine of its own: HOME, no PORTEN_* from the test runner, the sim engine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTEN_") and k not in ("XDG_CONFIG_HOME",)}
    env.update({"HOME": str(home), "PORTEN_ENGINE": "sim"})
    env.update(extra)
    return env


def start_login(hub, home, *args):
    return subprocess.Popen(
        [PORTEN_BIN, "login", "--hub", hub.url, "--name", "gpu-box", *args], env=machine_env(home),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def read_code(login, seen=None):
    """The user code and the complete URL `porten login` prints (the lines read go into `seen`)."""
    lines = []
    while True:
        line = login.stdout.readline()
        assert line, "porten login ended early: " + "".join(lines)
        lines.append(line)
        if seen is not None:
            seen.append(line)
        text = "".join(lines)
        url = re.search(r"(http://\S+/device\?user_code=\S+)", text)
        code = re.search(r"^\s+([B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4})\s*$", text, re.M)
        if url and code:
            return code.group(1), url.group(1)


def test_login_approved_in_the_browser_then_the_node_runs_with_no_flags(earn_hub, browser, tmp_path):
    hub = earn_hub
    home = tmp_path / "machine"
    home.mkdir()
    login = start_login(hub, home)
    code, url = read_code(login)
    assert url.endswith("user_code=" + code)

    context, page = set_password_and_sign_in(browser, create_user(hub, "owner@example.com", "--account", hub.account_id), "earn")
    page.goto(url)
    assert code in page.inner_text("main") and "gpu-box" in page.inner_text("main")
    assert "eu" in page.inner_text("main") and "verified" in page.inner_text("main")
    shoot(page, "device-approve")
    page.fill("input[name=name]", "gpu-box-1")
    page.click("#approve")
    page.wait_for_selector("text=Machine approved")
    shoot(page, "device-approved")

    output, _ = login.communicate(timeout=30)
    assert login.returncode == 0, output
    assert "Logged in: node gpu-box-1" in output
    config_path = home / ".config/porten/node.json"
    config = json.loads(config_path.read_text())
    assert config["hub_url"] == hub.url and config["credential"].startswith("pnode-") and config["engine"] == "sim"
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_path.parent.stat().st_mode) == 0o700
    node = next(n for n in hub.admin("GET", "nodes")["data"] if n["id"] == config["node_id"])
    assert node["account_id"] == hub.account_id and node["region"] == "eu" and node["trust_class"] == "verified"

    # Again: already logged in, nothing asked.
    again = subprocess.run([PORTEN_BIN, "login", "--hub", hub.url], env=machine_env(home), capture_output=True, text=True, timeout=30)
    assert again.returncode == 0 and "Already logged in" in again.stdout

    # `porten node` with no flags, from node.json alone.
    agent = Process([PORTEN_BIN, "node"], tmp_path / "agent.log", env=machine_env(home, PORTEN_ENGINE="")).start()
    try:
        wait_until(lambda: hub.node_status(config["node_id"])["connected"], what="the logged-in node to connect")
        key = hub.admin("POST", "keys", json={"account_id": hub.account_id, "name": "mine", "own_nodes_only": True})["key"]
        client = OpenAI(base_url=hub.base_url, api_key=key, max_retries=0, timeout=30)
        raw = client.chat.completions.with_raw_response.create(model="ref-chat", messages=[{"role": "user", "content": "Hi"}])
        assert raw.headers["x-porten-node"] == config["node_id"]
        page.goto(hub.url + "/earn")
        row = page.inner_text("table")
        assert "gpu-box-1" in row and "online" in row and "sim" in row and "ref-chat" in row
        shoot(page, "earn")
    finally:
        agent.stop()
    context.close()

    # Log out: the credential is forgotten, the engine settings stay.
    out = subprocess.run([PORTEN_BIN, "logout"], env=machine_env(home), capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    config = json.loads(config_path.read_text())
    assert "credential" not in config and config["engine"] == "sim"
    missing = subprocess.run([PORTEN_BIN, "node"], env=machine_env(home, PORTEN_ENGINE=""), capture_output=True, text=True, timeout=30)
    assert missing.returncode != 0 and "porten login" in missing.stderr


def sign_in_http(hub, email):
    """An httpx session signed in as a new member of the hub's account."""
    return hub.signed_in(email, hub.account_id)


def device_code(hub):
    response = httpx.post(hub.url + "/node/v1/device/code", data={"client_id": "porten", "name": "box"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["interval"] == 1 and body["expires_in"] == 60 and body["verification_uri"] == hub.url + "/device"
    return body


def poll(hub, device):
    return httpx.post(hub.url + "/node/v1/device/token", data={"grant_type": GRANT, "device_code": device["device_code"]})


def test_the_device_flows_refusals(earn_hub, tmp_path):
    hub = earn_hub
    session = sign_in_http(hub, "approver@example.com")

    # Pending, then slow_down when polled faster than the interval (which grows by 5 s).
    device = device_code(hub)
    first = poll(hub, device)
    assert first.status_code == 400 and first.json()["error"] == "authorization_pending"
    fast = poll(hub, device)
    assert fast.json()["error"] == "slow_down" and fast.json()["interval"] == 6

    # Denied in the browser: the machine hears access_denied; porten login says so and saves nothing.
    home = tmp_path / "denied"
    home.mkdir()
    login = start_login(hub, home)
    code, _ = read_code(login)
    page = session.get("/device", params={"user_code": code.lower().replace("-", " ")})
    assert page.status_code == 200 and "gpu-box" in page.text
    denied = session.post("/device", data={"csrf": session.csrf, "user_code": code, "name": "gpu-box", "decision": "deny"})
    assert "Machine denied" in denied.text
    output, _ = login.communicate(timeout=30)
    assert login.returncode != 0 and "denied" in output
    assert not (home / ".config/porten/node.json").exists()
    # A decided code cannot be decided again.
    again = session.post("/device", data={"csrf": session.csrf, "user_code": code, "name": "x", "decision": "approve"})
    assert again.status_code == 400 and "not valid" in again.text

    # Approved once, collected once: the second collection is invalid_grant.
    device = device_code(hub)
    assert session.post("/device", data={"csrf": session.csrf, "user_code": device["user_code"], "name": "once", "decision": "approve"}).status_code == 200
    time.sleep(1.1)
    issued = poll(hub, device)
    assert issued.status_code == 200 and issued.json()["credential"].startswith("pnode-") and issued.json()["token_type"] == "porten-node"
    time.sleep(1.1)
    assert poll(hub, device).json()["error"] == "invalid_grant"

    # The approval form needs the session's CSRF token.
    device = device_code(hub)
    forged = session.post("/device", data={"user_code": device["user_code"], "name": "x", "decision": "approve"})
    assert forged.status_code == 403
    # Wrong codes are slowed down per person.
    statuses = [session.get("/device", params={"user_code": "BBBB-BBBB"}).status_code for _ in range(7)]
    assert statuses.count(400) == 7
    assert "Too many wrong codes" in session.get("/device", params={"user_code": device["user_code"]}).text
    assert poll(hub, device).json()["error"] == "authorization_pending"


def test_an_unapproved_code_expires(tmp_path):
    hub = Hub(tmp_path, extra_args=("--device-code-lifetime", "10", "--device-poll-interval", "1")).start()
    try:
        home = tmp_path / "m"
        home.mkdir()
        login = start_login(hub, home)
        read_code(login)
        output, _ = login.communicate(timeout=40)
        assert login.returncode != 0 and "expired" in output
    finally:
        hub.stop()


def test_enrollment_tokens_count_uses_expire_and_can_be_revoked(earn_hub, tmp_path):
    hub = earn_hub
    session = sign_in_http(hub, "fleet@example.com")
    page = session.post("/earn/add", data={"csrf": session.csrf, "uses": "2", "hours": "1", "name_prefix": "rack"})
    token = re.search(r'id="enrollment-token"[^>]*value="(penroll-\w+)"', page.text).group(1)
    assert f"porten enroll {token} --hub {hub.url}" in page.text

    def enroll(home, *args):
        home.mkdir(exist_ok=True)
        return subprocess.run([PORTEN_BIN, "enroll", token, "--hub", hub.url, *args], env=machine_env(home), capture_output=True, text=True, timeout=30)

    first = enroll(tmp_path / "a")
    assert first.returncode == 0 and "Enrolled: node rack-1" in first.stdout, first.stderr
    second = enroll(tmp_path / "b", "--name", "special")
    assert second.returncode == 0 and "special" in second.stdout
    third = enroll(tmp_path / "c")
    assert third.returncode != 0 and "no uses left" in third.stderr
    names = {n["name"]: n for n in hub.admin("GET", "nodes")["data"]}
    assert {"rack-1", "special"} <= set(names) and names["rack-1"]["region"] == "eu"
    listed = hub.admin("GET", f"enrollment-tokens?account_id={hub.account_id}")["data"]
    assert listed[0]["uses"] == 2 and "token" not in listed[0]

    # Revoked from the page: refused at once.
    fresh = hub.admin("POST", "enrollment-tokens", json={"account_id": hub.account_id, "uses": 5})
    assert session.post("/earn/tokens/revoke", data={"csrf": session.csrf, "id": fresh["id"]}).status_code == 303
    revoked = httpx.post(hub.url + "/node/v1/enroll", json={"token": fresh["token"]})
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]
    # Another account's token cannot be revoked from this one.
    other = hub.admin("POST", "accounts", json={"name": "Other"})
    theirs = hub.admin("POST", "enrollment-tokens", json={"account_id": other["id"]})
    assert session.post("/earn/tokens/revoke", data={"csrf": session.csrf, "id": theirs["id"]}).status_code == 404
    # A token that is not the minted one (one character changed) enrolls nothing. (Expiry is
    # checked against the store's clock in EnrollmentStoreTests: the shortest token lives 60 s.)
    short = hub.admin("POST", "enrollment-tokens", json={"account_id": hub.account_id, "expires_in": 60})
    tampered = short["token"][:-1] + ("A" if short["token"][-1] != "A" else "B")
    refused = httpx.post(hub.url + "/node/v1/enroll", json={"token": tampered})
    assert refused.status_code == 401 and "not valid" in refused.json()["error"]["message"]
    shoot_page = session.get("/earn/add")
    assert "rack-n" in shoot_page.text and "2 / 2" in shoot_page.text


def test_service_install_writes_a_unit_systemd_accepts(tmp_path):
    home = tmp_path / "svc"
    home.mkdir()
    env = machine_env(
        home, PORTEN_VRAM_BUDGET_MB="24000", PORTEN_ENGINE_MODELS="a%b,c\"d", PORTEN_NODE_CREDENTIAL="pnode-secret",
        PORTEN_ENGINE_API_KEY="sk-upstream-secret", PORTEN_ENGINE_URL="http://user:hunter2@127.0.0.1:8000/v1")
    dry = subprocess.run([PORTEN_BIN, "service", "install", "--dry-run"], env=env, capture_output=True, text=True, timeout=30)
    assert dry.returncode == 0, dry.stderr
    unit = dry.stdout
    assert unit.startswith(f"# {home}/.config/systemd/user/porten-node.service\n")
    assert 'Environment="PORTEN_VRAM_BUDGET_MB=24000"' in unit and 'Environment="PORTEN_ENGINE=sim"' in unit
    assert 'Environment="PORTEN_ENGINE_MODELS=a%%b,c\\"d"' in unit
    assert "pnode-secret" not in unit and "Restart=on-failure" in unit and "WantedBy=default.target" in unit
    assert "sk-upstream-secret" not in unit and "hunter2" not in unit
    assert re.search(r'^ExecStart="/\S+/porten" node$', unit, re.M)
    assert not (home / ".config").exists()

    # systemd itself accepts the unit (the binary must exist at the path the unit names).
    unit_path = tmp_path / "porten-node.service"
    unit_path.write_text(unit.split("\n", 1)[1])
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--user", str(unit_path)], env={**env, "XDG_RUNTIME_DIR": str(runtime)},
        capture_output=True, text=True, timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "porten-node.service" not in verify.stderr, verify.stderr

    plist = subprocess.run([PORTEN_BIN, "service", "install", "--dry-run", "--platform", "macos"], env=env, capture_output=True, text=True, timeout=30).stdout
    assert "<key>Label</key>\n    <string>ai.porten.node</string>" in plist
    assert "<string>a%b,c&quot;d</string>" in plist and "pnode-secret" not in plist
    body = plist.split("\n", 1)[1]
    assert subprocess.run(["xmllint", "--noout", "-"], input=body, text=True).returncode == 0

    # Without a credential nothing is installed.
    bare = subprocess.run([PORTEN_BIN, "service", "install"], env=machine_env(home), capture_output=True, text=True, timeout=30)
    assert bare.returncode != 0 and "porten login" in bare.stderr


def test_install_script_end_to_end(earn_hub, tmp_path):
    hub = earn_hub
    script = httpx.get(hub.url + "/install.sh")
    assert script.status_code == 200 and script.text.startswith("#!/bin/sh")
    check = subprocess.run(["shellcheck", "-s", "sh", "-"], input=script.text, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    assert httpx.get(hub.url + "/download/porten-windows-x86_64").status_code == 404

    # A machine with a fake systemctl/loginctl (this container runs no user systemd).
    home = tmp_path / "home"
    fakes = tmp_path / "fakebin"
    fakes.mkdir(parents=True)
    home.mkdir()
    for tool in ("systemctl", "loginctl"):
        fake = fakes / tool
        fake.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/calls.log"\n')
        fake.chmod(0o755)
    env = machine_env(home, PATH=f"{fakes}:{os.environ['PATH']}", PORTEN_VRAM_BUDGET_MB="8192")
    install = subprocess.Popen(["sh", "-c", f"curl -fsSL {hub.url}/install.sh | sh"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    code, _ = read_code(install, seen)
    session = sign_in_http(hub, "installer@example.com")
    assert session.post("/device", data={"csrf": session.csrf, "user_code": code, "name": "installed", "decision": "approve"}).status_code == 200
    output, _ = install.communicate(timeout=120)
    output = "".join(seen) + output
    assert install.returncode == 0, output
    binary = home / ".local/bin/porten"
    assert os.access(binary, os.X_OK)
    assert "engine: sim" in output
    calls = (tmp_path / "calls.log").read_text()
    assert "systemctl --user daemon-reload" in calls and "systemctl --user enable --now porten-node.service" in calls
    unit = (home / ".config/systemd/user/porten-node.service").read_text()
    assert f'ExecStart="{binary}" node' in unit and 'PORTEN_VRAM_BUDGET_MB=8192' in unit

    # Run again: idempotent (no second login, the same node).
    again = subprocess.run(["sh", "-c", f"curl -fsSL {hub.url}/install.sh | sh"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "Already logged in" in again.stdout + again.stderr
    assert sum(1 for n in hub.admin("GET", "nodes")["data"] if n["name"] == "installed") == 1

    # What the service would run: the unit's command with its environment; the node serves.
    environment = dict(re.findall(r'^Environment="(\w+)=(.*)"$', unit, re.M))
    agent = Process([binary, "node"], tmp_path / "svc.log", env={**machine_env(home), **environment}).start()
    try:
        config = json.loads((home / ".config/porten/node.json").read_text())
        wait_until(lambda: hub.node_status(config["node_id"])["connected"], what="the installed node to connect")
        key = hub.admin("POST", "keys", json={"account_id": hub.account_id, "name": "k", "own_nodes_only": True})["key"]
        answer = OpenAI(base_url=hub.base_url, api_key=key, max_retries=0).chat.completions.create(
            model="ref-chat", messages=[{"role": "user", "content": "Hi"}])
        assert answer.choices[0].message.content
    finally:
        agent.stop()
