"""The portal in a real browser (Playwright driving Debian's Chromium) against a real Hub and sim
node: sign-in through a one-time link, keys used with the official openai SDK, the playground on
a cold model, copy-as-curl, usage, operator pages, and the security properties (CSRF, cookie
flags, escaping, roles, sign-in throttling). Every page is screenshotted into .build/screenshots/
(desktop and 360 px wide)."""
import json
import os
import re
import subprocess
import time

import httpx
import openai
import pytest
from openai import OpenAI
from playwright import sync_api as playwright_sync

from porten_fleet import PORTAL_PASSWORD, Hub

CHROMIUM = os.environ.get("PORTEN_CHROMIUM", "/usr/lib/chromium/chromium")
SCREENSHOTS = os.path.join(os.path.dirname(__file__), "../../.build/screenshots")
XSS_MODEL = "<script>window.pwned='model'</script>"
PASSWORD = PORTAL_PASSWORD


def catalog_file(tmp_path):
    models = [
        {"id": "ref-chat", "type": "chat", "ctx": 8192, "vram_mb": 512, "disk_mb": 256, "owned_by": "porten-sim"},
        {"id": "ref-reasoner", "type": "chat", "ctx": 16384, "capabilities": ["reasoning"], "vram_mb": 1024, "disk_mb": 512, "owned_by": "porten-sim"},
        {"id": "ref-embed", "type": "embedding", "ctx": 2048, "vram_mb": 256, "disk_mb": 128, "owned_by": "porten-sim"},
        {"id": "ref-large", "type": "chat", "ctx": 32768, "vram_mb": 6144, "disk_mb": 3072, "owned_by": "porten-sim"},
        {"id": XSS_MODEL, "type": "chat", "ctx": 1024, "vram_mb": 1, "disk_mb": 1, "owned_by": "<b>nobody</b>"},
        {"id": "org/Model 7B ../x", "type": "chat", "ctx": 1024, "vram_mb": 1, "disk_mb": 1, "owned_by": "org"},
    ]
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"models": models}))
    return str(path)


@pytest.fixture
def portal(tmp_path):
    """A Hub with a custom catalog (one model id is a <script> tag), an account with an EU sim
    node that can load ref-large on demand (a few seconds), and helpers to create users."""
    hub = Hub(tmp_path, extra_args=("--catalog", catalog_file(tmp_path))).start()
    try:
        account = hub.admin("POST", "accounts", json={"name": "Acme"})
        hub.account_id = account["id"]
        hub.add_node(
            account["id"], tmp_path, region="eu", trust_class="verified",
            extra_args=("--models", "ref-chat,ref-reasoner,ref-embed", "--vram-budget-mb", "8192",
                        "--sim-download-mbps", "700", "--sim-load-mbps", "1500", "--token-delay-ms", "20"),
        ).start()
        yield hub
    finally:
        hub.stop()


def create_user(hub, email, *extra):
    return hub.create_user(email, *extra)


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


def shoot(page, name):
    """A screenshot of the page at desktop width and at 360 px (the narrowest phone)."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)
    size = page.viewport_size
    page.set_viewport_size({"width": 360, "height": 740})
    # Nothing may be wider than the phone's screen (tables scroll inside their own box).
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}-360.png"), full_page=True)
    page.set_viewport_size(size)
    assert overflow <= 0, f"{name} is {overflow}px wider than a 360px screen"


def set_password_and_sign_in(browser, link, name):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(link)
    shoot(page, f"{name}-set-password")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=repeat]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/build/playground")
    return context, page


def test_sign_in_create_an_eu_key_use_it_with_the_sdk_then_revoke_it(portal, browser):
    link = create_user(portal, "ada@example.com", "--account", portal.account_id, "--name", "Ada")
    context, page = set_password_and_sign_in(browser, link, "member")
    # The link is single-use.
    assert httpx.get(link, headers={"Accept": "text/html"}).status_code == 410

    # Sign out, then in again with the password.
    page.click("text=Sign out")
    page.wait_for_url("**/signin?signed_out=1")
    shoot(page, "signin")
    page.fill("input[name=email]", "ADA@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/build/playground")

    page.goto(portal.url + "/build/keys")
    page.fill("input[name=name]", "eu-only")
    page.check("input[name=region][value=eu]")
    page.select_option("select[name=min_trust_class]", "verified")
    page.fill("input[name=requests_per_minute]", "100")
    page.click("form[action='/build/keys'] button[type=submit]")
    key = page.input_value("#new-key")
    assert key.startswith("sk-porten-")
    shoot(page, "keys-created")
    assert "not shown again" in page.inner_text(".created")

    # The same policy the admin API sets.
    stored = next(k for k in portal.admin("GET", f"keys?account_id={portal.account_id}")["data"] if k["name"] == "eu-only")
    assert stored["allowed_regions"] == ["eu"] and stored["min_trust_class"] == "verified" and stored["requests_per_minute"] == 100

    client = OpenAI(base_url=portal.base_url, api_key=key, max_retries=0, timeout=30)
    raw = client.chat.completions.with_raw_response.create(model="ref-chat", messages=[{"role": "user", "content": "Hi"}])
    assert raw.headers["x-porten-region"] == "eu"
    assert raw.parse().choices[0].message.content

    # The key is listed (prefix only) and shown nowhere again.
    page.goto(portal.url + "/build/keys")
    assert key not in page.content()
    assert stored["display_prefix"].rstrip("…") in page.inner_text("table")
    page.click("button[aria-label='Revoke eu-only']")
    page.wait_for_url("**/build/keys")
    assert "revoked" in page.inner_text("tr.revoked")
    shoot(page, "keys")
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="ref-chat", messages=[{"role": "user", "content": "Hi"}])
    context.close()


def test_playground_shows_a_cold_models_load_then_the_answer_and_copy_as_curl_repeats_it(portal, browser):
    link = create_user(portal, "grace@example.com", "--account", portal.account_id)
    context, page = set_password_and_sign_in(browser, link, "playground")
    assert portal.warming("ref-large")["phase"] == "cold"
    page.select_option("#pg-model", "ref-large")
    page.fill("#pg-system", "Be brief.")
    page.fill("#pg-message", "Tell me about the weather in Lisbon")
    page.fill("#pg-max-tokens", "4")
    page.click("#pg-send")

    # Watch the bar while the model downloads and loads.
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = page.evaluate(
            "({state: document.getElementById('playground').dataset.state, visible: !document.getElementById('pg-warming').hidden,"
            " value: document.getElementById('pg-progress').value, phase: document.getElementById('pg-warming').dataset.phase || '',"
            " label: document.getElementById('pg-warming-label').textContent})"
        )
        if state["visible"]:
            seen.append((state["phase"], state["value"], state["label"]))
            if len(seen) == 8:
                shoot(page, "playground-warming")
        if state["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert page.evaluate("document.getElementById('playground').dataset.state") == "done", page.inner_text("#pg-error")
    phases = {phase for phase, _, _ in seen}
    assert {"downloading", "loading"} <= phases, seen
    # Each phase fills the bar from 0 to 100, never backwards.
    for phase in ("downloading", "loading"):
        values = [value for seen_phase, value, _ in seen if seen_phase == phase]
        assert len(set(values)) >= 2 and values == sorted(values), (phase, values)
    assert any("MB" in label for _, _, label in seen)
    assert page.is_hidden("#pg-warming")
    answer = page.inner_text("#pg-answer")
    assert answer
    assert "finish: length" in page.inner_text("#pg-meta")
    shoot(page, "playground")

    # Copy as curl: the exact request, run in a shell with a key of the account, answers the same.
    page.click("#pg-copy-curl")
    command = page.inner_text("#pg-curl")
    assert "$PORTEN_API_KEY" in command and "/v1/chat/completions" in command
    key = portal.create_key(portal.account_id)["key"]
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=60, env={**os.environ, "PORTEN_API_KEY": key}
    )
    assert result.returncode == 0, result.stderr
    text = ""
    for line in result.stdout.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            for choice in json.loads(line[6:])["choices"]:
                text += choice["delta"].get("content") or ""
    assert text == answer

    # The playground's requests are metered to the account and shown on the usage page.
    page.goto(portal.url + "/build/usage")
    assert "ref-large" in page.inner_text("table")
    assert page.locator("svg rect.bar").count() == 30
    shoot(page, "usage")
    context.close()


def test_reasoning_is_shown_apart_from_the_answer(portal, browser):
    link = create_user(portal, "linus@example.com", "--account", portal.account_id)
    context, page = set_password_and_sign_in(browser, link, "reasoning")
    page.select_option("#pg-model", "ref-reasoner")
    page.click("#pg-send")
    page.wait_for_selector("#playground[data-state=done]", timeout=30_000)
    assert page.is_visible("#pg-reasoning-box")
    assert page.inner_text("#pg-reasoning") and page.inner_text("#pg-answer")
    assert page.inner_text("#pg-reasoning") not in page.inner_text("#pg-answer")
    context.close()


def test_operator_pages_and_what_a_member_may_not_see(portal, browser):
    operator_link = create_user(portal, "op@example.com", "--operator")
    context, page = set_password_and_sign_in(browser, operator_link, "operator")
    for path, name in [("/admin", "admin-fleet"), ("/admin/catalog", "admin-catalog"), ("/admin/nodes", "admin-nodes"), ("/admin/accounts", "admin-accounts")]:
        response = page.goto(portal.url + path)
        assert response.status == 200
        shoot(page, name)
    page.goto(portal.url + "/admin")
    assert "ref-chat" in page.inner_text("main") and "VRAM" in page.inner_text("main")
    page.goto(portal.url + "/admin/nodes")
    assert "connected" in page.inner_text("table") and "eu" in page.inner_text("table")

    # Disable a model: the API stops offering it at once; enable it again.
    client = OpenAI(base_url=portal.base_url, api_key=portal.create_key(portal.account_id)["key"], max_retries=0)
    page.goto(portal.url + "/admin/catalog")
    page.click("button[aria-label='Disable ref-chat']")
    page.wait_for_url("**/admin/catalog")
    assert "ref-chat" not in [m.id for m in client.models.list().data]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="ref-chat", messages=[{"role": "user", "content": "Hi"}])
    page.click("button[aria-label='Enable ref-chat']")
    # Ids with '/', spaces or '..' switch as well (the id travels in the form, not the path).
    page.click("button[aria-label='Disable org/Model 7B ../x']")
    page.wait_for_url("**/admin/catalog")
    assert page.is_visible("button[aria-label='Enable org/Model 7B ../x']")
    assert "org/Model 7B ../x" not in [m.id for m in client.models.list().data]
    assert client.chat.completions.create(model="ref-chat", messages=[{"role": "user", "content": "Hi"}]).choices[0].message.content

    # Add a user from the accounts page: the one-time link is shown and works.
    page.goto(portal.url + "/admin/accounts")
    page.fill("form[action='/admin/users'] input[name=email]", "new@example.com")
    page.click("form[action='/admin/users'] button[type=submit]")
    link = page.input_value("#set-password-link")
    assert "/set-password?token=" in link
    assert httpx.get(link, headers={"Accept": "text/html"}).status_code == 200
    context.close()

    member_link = create_user(portal, "member@example.com", "--account", portal.account_id)
    context, page = set_password_and_sign_in(browser, member_link, "member-admin")
    response = page.goto(portal.url + "/admin")
    assert response.status == 403
    assert "operators" in page.inner_text("main")
    assert "Fleet" not in page.inner_text("header")
    shoot(page, "admin-refused")
    context.close()


def test_names_and_model_ids_with_markup_render_as_text(portal, browser):
    link = create_user(portal, "mallory@example.com", "--account", portal.account_id, "--name", "<img src=x onerror=\"window.pwned='name'\">")
    context, page = set_password_and_sign_in(browser, link, "markup")
    page.goto(portal.url + "/build/keys")
    page.fill("input[name=name]", "<script>window.pwned='key'</script>")
    page.click("form[action='/build/keys'] button[type=submit]")
    page.goto(portal.url + "/build/keys")
    assert "<script>window.pwned='key'</script>" in page.inner_text("table")
    assert "<img" in page.inner_text("header")
    page.goto(portal.url + "/build/playground")
    assert XSS_MODEL in page.inner_text("#pg-model")
    assert page.evaluate("window.pwned") is None
    assert page.locator("script:not([src])").count() == 0
    # The policy forbids inline script even if markup slipped through.
    csp = page.goto(portal.url + "/build/keys").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    shoot(page, "markup")
    context.close()


def test_forms_need_the_csrf_token_and_cookies_carry_their_flags(portal):
    create_user(portal, "csrf@example.com", "--account", portal.account_id)
    user = next(u for u in portal.admin("GET", "users")["data"] if u["email"] == "csrf@example.com")
    assert not user["has_password"]

    with httpx.Client(base_url=portal.url, headers={"Accept": "text/html"}) as browser_like:
        # Without the pre-session token, sign-in is refused before the password is looked at.
        refused = browser_like.post("/signin", data={"email": "csrf@example.com", "password": "x" * 12})
        assert refused.status_code == 403 and "did not come from this site" in refused.text
        # The refusal hands the browser its pre-session token, for the next try.
        assert "porten_csrf=" in refused.headers["set-cookie"] and "SameSite=Strict" in refused.headers["set-cookie"]
        assert browser_like.cookies.get("porten_csrf")

    link = create_user(portal, "csrf2@example.com", "--account", portal.account_id)
    token = link.split("token=")[1]
    with httpx.Client(base_url=portal.url, headers={"Accept": "text/html"}) as session:
        session.get("/set-password", params={"token": token})
        csrf = session.cookies["porten_csrf"]
        signed_in = session.post("/set-password", data={"csrf": csrf, "token": token, "password": PASSWORD, "repeat": PASSWORD})
        assert signed_in.status_code == 303
        set_cookie = signed_in.headers["set-cookie"]
        assert "porten_session=" in set_cookie
        for flag in ("HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="):
            assert flag in set_cookie, set_cookie
        assert "Secure" not in set_cookie  # plain http: a Secure cookie would never come back

        # Behind a TLS proxy the session cookie is Secure.
        over_tls = httpx.post(
            portal.url + "/signin", data={"csrf": csrf, "email": "csrf2@example.com", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https", "Cookie": f"porten_csrf={csrf}"},
        )
        assert over_tls.status_code == 303 and "Secure" in over_tls.headers["set-cookie"], over_tls.headers

        keys_before = len(portal.admin("GET", f"keys?account_id={portal.account_id}")["data"])
        forged = session.post("/build/keys", data={"name": "forged"})
        assert forged.status_code == 403
        wrong = session.post("/build/keys", data={"name": "forged", "csrf": csrf})  # the pre-session token is not the session's
        assert wrong.status_code == 403
        assert len(portal.admin("GET", f"keys?account_id={portal.account_id}")["data"]) == keys_before
        page = session.get("/build/keys").text
        session_csrf = re.search(r'name="csrf" value="(\w+)"', page).group(1)
        assert session.post("/build/keys", data={"name": "real", "csrf": session_csrf}).status_code == 200
        assert len(portal.admin("GET", f"keys?account_id={portal.account_id}")["data"]) == keys_before + 1

        # The playground's API call needs the token in its header too.
        chat = {"model": "ref-chat", "messages": [{"role": "user", "content": "Hi"}]}
        assert session.post("/build/api/chat/completions", json=chat).status_code == 403
        answered = session.post("/build/api/chat/completions", json=chat, headers={"X-CSRF-Token": session_csrf})
        assert answered.status_code == 200 and answered.json()["choices"][0]["message"]["content"]

        # Signing out ends the session on the server, not only in the browser.
        cookie = session.cookies["porten_session"]
        session.post("/signout", data={"csrf": session_csrf})
    again = httpx.get(portal.url + "/build/keys", cookies={"porten_session": cookie})
    assert again.status_code == 303 and again.headers["location"].startswith("/signin")


def test_a_burst_of_parallel_guesses_is_counted_as_it_arrives(portal):
    from concurrent.futures import ThreadPoolExecutor

    link = create_user(portal, "hopper@example.com", "--account", portal.account_id)
    token = link.split("token=")[1]
    with httpx.Client(base_url=portal.url) as owner:
        owner.get("/signin")
        csrf = owner.cookies["porten_csrf"]
        assert owner.post("/set-password", data={"csrf": csrf, "token": token, "password": PASSWORD, "repeat": PASSWORD}).status_code == 303

    def guess(i):
        with httpx.Client(base_url=portal.url, cookies={"porten_csrf": csrf}) as guesser:
            return guesser.post("/signin", data={"csrf": csrf, "email": "hopper@example.com", "password": f"guess {i:04d}"}).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(guess, range(60)))
    # At most five guesses had their password checked; the rest were refused unchecked.
    assert statuses.count(401) <= 5 and statuses.count(401) + statuses.count(429) == 60, statuses
    with httpx.Client(base_url=portal.url, cookies={"porten_csrf": csrf}) as owner:
        assert owner.post("/signin", data={"csrf": csrf, "email": "hopper@example.com", "password": PASSWORD}).status_code == 429


def test_failed_sign_ins_slow_down_per_email(portal):
    link = create_user(portal, "turing@example.com", "--account", portal.account_id)
    token = link.split("token=")[1]
    with httpx.Client(base_url=portal.url) as session:
        session.get("/signin")
        csrf = session.cookies["porten_csrf"]
        assert session.post("/set-password", data={"csrf": csrf, "token": token, "password": PASSWORD, "repeat": PASSWORD}).status_code == 303
    with httpx.Client(base_url=portal.url) as attacker:
        attacker.get("/signin")
        csrf = attacker.cookies["porten_csrf"]
        for _ in range(5):
            wrong = attacker.post("/signin", data={"csrf": csrf, "email": "turing@example.com", "password": "wrong password"})
            assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
        # Now even the right password waits: the guesser learns nothing.
        held = attacker.post("/signin", data={"csrf": csrf, "email": "turing@example.com", "password": PASSWORD})
        assert held.status_code == 429 and "Too many failed sign-ins" in held.text
        assert 1 <= int(held.headers["retry-after"]) <= 4
        # After the wait the right password works.
        time.sleep(int(held.headers["retry-after"]) + 0.2)
        assert attacker.post("/signin", data={"csrf": csrf, "email": "turing@example.com", "password": PASSWORD}).status_code == 303


def test_sign_up_is_closed_unless_the_operator_opens_it(portal, tmp_path):
    with httpx.Client(base_url=portal.url, headers={"Accept": "text/html"}) as visitor:
        closed = visitor.get("/signup")
        assert closed.status_code == 404 and "Sign-up is closed" in closed.text
        csrf = visitor.cookies["porten_csrf"]
        assert visitor.post("/signup", data={"csrf": csrf, "email": "eve@example.com", "display_name": "Eve", "password": PASSWORD}).status_code == 404
    assert all(u["email"] != "eve@example.com" for u in portal.admin("GET", "users")["data"])

    (tmp_path / "open").mkdir()
    hub = Hub(tmp_path / "open", extra_args=("--allow-signup",)).start()
    try:
        with httpx.Client(base_url=hub.url, headers={"Accept": "text/html"}) as visitor:
            assert "Create an account" in visitor.get("/signup").text
            csrf = visitor.cookies["porten_csrf"]
            short = visitor.post("/signup", data={"csrf": csrf, "email": "eve@example.com", "display_name": "Eve", "password": "short"})
            assert short.status_code == 400 and "10 to 1024 characters" in short.text
            created = visitor.post("/signup", data={"csrf": csrf, "email": "Eve@Example.com", "display_name": "Eve", "password": PASSWORD})
            assert created.status_code == 303 and created.headers["location"] == "/build/keys"
            assert visitor.get("/build/keys").status_code == 200
        with httpx.Client(base_url=hub.url, headers={"Accept": "text/html"}) as again:
            again.get("/signup")
            taken = again.post("/signup", data={"csrf": again.cookies["porten_csrf"], "email": "eve@example.com", "display_name": "Eve 2", "password": PASSWORD})
            assert taken.status_code == 400 and "already an account" in taken.text
        [eve] = [u for u in hub.admin("GET", "users")["data"] if u["email"] == "eve@example.com"]
        assert eve["role"] == "owner" and not eve["operator"]
    finally:
        hub.stop()
