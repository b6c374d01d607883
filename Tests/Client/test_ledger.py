"""From metered tokens to money, end to end: prices from the catalog, credit and
--require-credit, balanced postings that match usage × price, a payout run (once) with a SEPA
file valid against the pain.001.001.03 XSD, statements, and no acknowledged request's postings
lost or doubled when the Hub is killed with SIGKILL."""
import json
import os
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import httpx
import openai
import pytest
import sepaxml
from openai import OpenAI

from porten_fleet import PORTEN_BIN, Hub, wait_until

PRICE_IN, PRICE_OUT = 100_000_000, 200_000_000  # micro-units per million tokens: 100 and 200 EUR
XSD = os.path.join(os.path.dirname(sepaxml.__file__), "schemas", "pain.001.001.03.xsd")


def priced_catalog(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"models": [
        {"id": "ref-chat", "type": "chat", "ctx": 8192, "vram_mb": 512, "disk_mb": 256, "owned_by": "porten-sim", "price_input": 100.0, "price_output": 200.0},
        {"id": "ref-embed", "type": "embedding", "ctx": 2048, "vram_mb": 256, "disk_mb": 128, "owned_by": "porten-sim", "price_input": 50.0, "price_output": 0},
    ]}))
    return str(path)


def micros(text):
    whole, _, fraction = text.lstrip("-").partition(".")
    value = int(whole) * 1_000_000 + int((fraction + "000000")[:6])
    return -value if text.startswith("-") else value


@pytest.fixture
def market(tmp_path):
    hub = Hub(tmp_path, extra_args=("--catalog", priced_catalog(tmp_path), "--platform-fee", "0.2", "--require-credit")).start()
    try:
        hub.consumer = hub.admin("POST", "accounts", json={"name": "Consumer"})["id"]
        hub.owner = hub.admin("POST", "accounts", json={"name": "Owner"})["id"]
        hub.key = hub.create_key(hub.consumer)["key"]
        hub.node = hub.add_node(hub.owner, tmp_path, extra_args=("--models", "ref-chat,ref-embed")).start()
        yield hub
    finally:
        hub.stop()


def admin_cli(hub, *args, cwd=None):
    return subprocess.run([PORTEN_BIN, "admin", *args, "--hub", hub.url, "--token", hub.admin_token], capture_output=True, text=True, timeout=30, cwd=cwd)


def test_credit_charges_earnings_and_a_payout_run(market, tmp_path):
    hub = market
    client = OpenAI(base_url=hub.base_url, api_key=hub.key, max_retries=0, timeout=30)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="ref-chat", messages=[{"role": "user", "content": "Hi"}])
    assert refused.value.code == "insufficient_quota" and refused.value.type == "insufficient_quota"

    granted = admin_cli(hub, "credits", "add", "--account", hub.consumer, "--amount", "5.00", "--memo", "welcome")
    assert granted.returncode == 0 and json.loads(granted.stdout)["balance"] == "5.000000", granted.stdout + granted.stderr
    for words in range(1, 11):
        client.chat.completions.create(model="ref-chat", messages=[{"role": "user", "content": "word " * words * 50}])
    client.embeddings.create(model="ref-embed", input=["a b c"] * 20)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "Hi"}])

    rows = [r for r in hub.admin("GET", "usage?limit=100")["data"] if r["account_id"] == hub.consumer]
    billed = [r for r in rows if r["status"] == 200]
    assert len(billed) == 11
    for row in rows:
        price_in, price_out = (PRICE_IN, PRICE_OUT) if row["model"] == "ref-chat" else (50_000_000, 0) if row["model"] == "ref-embed" else (0, 0)
        expected = (row["prompt_tokens"] * price_in + row["completion_tokens"] * price_out + 500_000) // 1_000_000 if row["status"] == 200 else 0
        assert row["cost"] == expected, row
    total = sum(r["cost"] for r in billed)
    fees = sum(r["cost"] * 2000 // 10_000 for r in billed)

    ledger = hub.admin("GET", "ledger?limit=1000")
    assert ledger["total"] == "0.000000"
    balance = lambda account: sum(micros(e["amount"]) for e in ledger["data"] if e["ledger_account"] == account)
    assert balance(hub.consumer) == 5_000_000 - total
    assert balance(hub.owner) == total - fees
    assert balance("platform") == fees
    assert {e["request_id"] for e in ledger["data"] if e["kind"] == "charge"} == {r["request_id"] for r in billed}

    # The owner's payout account, with its IBAN checked.
    bad = httpx.put(f"{hub.url}/admin/v1/payout-accounts/{hub.owner}", headers={"Authorization": f"Bearer {hub.admin_token}"},
                    json={"holder": "Owner GmbH", "iban": "DE89370400440532013001", "bic": "DEUTDEFF"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "iban"
    assert admin_cli(hub, "payout-accounts", "set", "--account", hub.owner, "--holder", "Owner GmbH & Co",
                     "--iban", "DE89 3704 0044 0532 0130 00", "--bic", "DEUTDEFF").returncode == 0

    period = datetime.now(timezone.utc).strftime("%Y-%m")
    run = ["payouts", "run", "--period", period, "--minimum", "0.01", "--debtor-name", "Porten Platform", "--debtor-iban", "GB82WEST12345698765432",
           "--debtor-bic", "NWBKGB2L", "--out", str(tmp_path)]
    open_period = admin_cli(hub, *run)
    assert open_period.returncode != 0 and "has not ended" in open_period.stdout
    first = admin_cli(hub, *run, "--allow-open-period")
    assert first.returncode == 0, first.stdout + first.stderr
    xml_path, csv_path = tmp_path / f"payouts-{period}.xml", tmp_path / f"payouts-{period}.csv"
    assert xml_path.exists(), first.stdout + first.stderr
    valid = subprocess.run(["xmllint", "--noout", "--schema", XSD, str(xml_path)], capture_output=True, text=True)
    assert valid.returncode == 0, valid.stderr
    xml = xml_path.read_text()
    paid = (total - fees) // 10_000 * 10_000  # whole cents; the rest stays on the account
    amount = f"{paid // 1_000_000}.{paid % 1_000_000 // 10_000:02d}"
    assert f'<InstdAmt Ccy="EUR">{amount}</InstdAmt>' in xml and "<IBAN>DE89370400440532013000</IBAN>" in xml
    assert "<Nm>Owner GmbH   Co</Nm>" in xml  # '&' is outside SEPA's character set
    assert "DE89370400440532013000" in csv_path.read_text()
    [payout] = json.loads(first.stdout.split("\nWrote")[0])["payouts"]

    # Twice: the period is paid once.
    entries_before = len(hub.admin("GET", "ledger?limit=100000")["data"])
    second = admin_cli(hub, *run, "--allow-open-period")
    assert second.returncode == 0 and json.loads(second.stdout.split("\nWrote")[0])["created"] is False
    assert len(hub.admin("GET", "ledger?limit=100000")["data"]) == entries_before
    owner_ledger = hub.admin("GET", f"ledger?account={hub.owner}")
    assert sum(micros(e["amount"]) for e in owner_ledger["data"]) == (total - fees) - paid
    assert admin_cli(hub, "payouts", "mark", payout["id"], "--paid").returncode == 0
    assert admin_cli(hub, "payouts", "mark", payout["id"], "--failed").returncode != 0
    final = hub.admin("GET", "ledger?limit=100000")
    assert final["total"] == "0.000000"
    assert sum(micros(e["amount"]) for e in final["data"] if e["ledger_account"] == "external") == -5_000_000 + paid

    # What the people see: the owner's earnings and payout, the consumer's cost.
    owner_page = hub.signed_in("owner@example.com", hub.owner).get("/earn").text
    assert "Owner GmbH" in owner_page and period in owner_page and "paid" in owner_page and "ref-chat" in owner_page
    consumer_page = hub.signed_in("consumer@example.com", hub.consumer).get("/build/usage").text
    assert f'id="total-cost">{total // 1_000_000}.{(total % 1_000_000 + 5_000) // 10_000:02d}<' in consumer_page

    statement = hub.admin("GET", f"statement?account_id={hub.consumer}&period={period}")
    assert statement["opening_balance"] == "0.000000" and micros(statement["closing_balance"]) == 5_000_000 - total
    csv = httpx.get(f"{hub.url}/admin/v1/statement", params={"account_id": hub.consumer, "period": period, "format": "csv"},
                    headers={"Authorization": f"Bearer {hub.admin_token}"}).text
    assert csv.startswith("id,txn,created_at,ledger_account,kind,amount") and csv.count("\n") == 1 + 1 + 11


def test_sigkill_loses_no_acknowledged_postings_and_doubles_none(tmp_path):
    hub = Hub(tmp_path, extra_args=("--catalog", priced_catalog(tmp_path), "--platform-fee", "0.1")).start()
    account = hub.admin("POST", "accounts", json={"name": "A"})["id"]
    key = hub.create_key(account)["key"]
    node = hub.add_node(account, tmp_path, extra_args=("--models", "ref-chat", "--concurrency", "64")).start()
    acknowledged, lock, stop = [], threading.Lock(), threading.Event()

    def one(i):
        if stop.is_set():
            return
        try:
            response = httpx.post(f"{hub.base_url}/chat/completions", headers={"Authorization": f"Bearer {key}"},
                                  json={"model": "ref-chat", "messages": [{"role": "user", "content": f"request {i}"}]}, timeout=10)
            if response.status_code == 200:
                with lock:
                    acknowledged.append(response.headers["x-request-id"])
        except httpx.HTTPError:
            pass

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(one, i) for i in range(300)]
        wait_until(lambda: len(acknowledged) >= 120, timeout=60, what="120 answers")
        hub.process.proc.send_signal(signal.SIGKILL)
        stop.set()
        for future in futures:
            future.result()
    node.process.stop()
    hub.process.proc.wait()
    hub.process.start()
    wait_until(hub.healthy, what="the hub to come back")
    try:
        ledger = hub.admin("GET", "ledger?limit=100000")
        charges = [e["request_id"] for e in ledger["data"] if e["kind"] == "charge"]
        assert len(charges) == len(set(charges))
        assert set(acknowledged) <= set(charges), set(acknowledged) - set(charges)
        assert ledger["total"] == "0.000000"
    finally:
        hub.stop()


def test_a_stream_cut_by_the_client_is_billed_for_what_it_relayed(market):
    hub = market
    admin_cli(hub, "credits", "add", "--account", hub.consumer, "--amount", "100")
    with httpx.stream("POST", f"{hub.base_url}/chat/completions", headers={"Authorization": f"Bearer {hub.key}"},
                      json={"model": "ref-chat", "stream": True, "messages": [{"role": "user", "content": "word " * 400}]}, timeout=30) as response:
        request_id = response.headers["x-request-id"]
        seen = 0
        for line in response.iter_lines():
            if line.startswith("data: ") and '"content"' in line:
                seen += 1
            if seen == 20:
                break
    wait_until(lambda: any(r["request_id"] == request_id for r in hub.admin("GET", "usage?limit=100")["data"]), what="the cut stream's row")
    row = next(r for r in hub.admin("GET", "usage?limit=100")["data"] if r["request_id"] == request_id)
    assert row["status"] == 499 and row["completion_tokens"] >= 19 and row["cost"] == (row["completion_tokens"] * PRICE_OUT + 500_000) // 1_000_000
    charges = [e for e in hub.admin("GET", "ledger?limit=1000")["data"] if e["request_id"] == request_id and e["kind"] == "charge"]
    assert len(charges) == 1 and micros(charges[0]["amount"]) == -row["cost"]


def test_parallel_requests_cannot_spend_far_past_the_balance(market):
    hub = market
    admin_cli(hub, "credits", "add", "--account", hub.consumer, "--amount", "0.000001")

    def one(_):
        return httpx.post(f"{hub.base_url}/chat/completions", headers={"Authorization": f"Bearer {hub.key}"},
                          json={"model": "ref-chat", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(one, range(40)))
    # The first request reserves its most; the others find nothing left unreserved.
    assert statuses.count(200) == 1 and statuses.count(429) == 39, statuses
