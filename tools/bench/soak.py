"""Soak and abuse run against a Hub and a sim node on loopback (not a test: it prints findings).

(a) bodies: N generated malformed request bodies (mutations of valid chat and embeddings bodies:
    truncation, wrong types, huge numbers, deep nesting, bad UTF-8, NULs, giant strings within the
    body limit, bad JSON schemas) over many concurrent connections with a valid key. Counts Hub
    crashes (the process exits; it is restarted and the bodies in flight are saved) and 5xx answers.
    500/504 and transport errors are findings; 502/503 are listed apart with their error codes.
(b) kill -9: per trial, a fresh Hub + sim node, 300 requests (half streamed) from concurrent
    clients, SIGKILL of the Hub after 150 answers, restart on the same data dir, then compare the
    acknowledged answers (200 non-streamed, or a finish chunk then [DONE]) with the usage rows.
(c) fds: a Hub started with RLIMIT_NOFILE soft=1024 holds 1000 idle TCP sockets while legitimate
    requests are sent; prints their success rate and latency.

Uses the Hub and node launchers of tools/porten_fleet.py. Each phase is bounded by --time-limit.
Usage: .venv/bin/python tools/bench/soak.py [--bodies N] [--kill-trials N] [--idle-sockets N] [--only a,b,c]
"""
import argparse
import asyncio
import base64
import collections
import json
import random
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from porten_fleet import PORTEN_BIN, Hub, wait_until  # noqa: E402  ($PORTEN_BIN, else the debug build)

QUIET = ("--log-level", "warning")

# ---------------------------------------------------------------- (a) malformed bodies

CHAT = {"model": "ref-chat", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
        "max_tokens": 8, "temperature": 0.5, "stream": False, "stop": ["\n"], "user": "u", "metadata": {"k": "v"}}
TOOLS = {"model": "ref-tools", "messages": [{"role": "user", "content": "weather?"}], "max_tokens": 16, "tool_choice": "auto",
         "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object", "properties": {"c": {"type": "string"}}}}}]}
SCHEMA = {"model": "ref-tools", "messages": [{"role": "user", "content": "json"}], "max_tokens": 32,
          "response_format": {"type": "json_schema", "json_schema": {"name": "s", "strict": True, "schema": {
              "type": "object", "properties": {"a": {"type": "array", "items": {"type": "integer"}, "maxItems": 3}}, "required": ["a"]}}}}
VISION = {"model": "ref-vision", "max_tokens": 4, "messages": [{"role": "user", "content": [
    {"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]}
EMBED = {"model": "ref-embed", "input": ["hello", "world"], "encoding_format": "float"}
SEEDS = [("chat", CHAT), ("chat", TOOLS), ("chat", SCHEMA), ("chat", VISION), ("embeddings", EMBED),
         ("embeddings", {"model": "ref-embed", "input": [[1, 2, 3]], "encoding_format": "base64", "dimensions": 8})]

BAD_SCHEMAS = [{"type": "array", "maxItems": -1}, {"type": "array", "minItems": 10**12}, {"type": "string", "minLength": 2**62},
               {"type": "string", "pattern": "("}, {"$ref": "#"}, {"type": "object", "properties": {"a": {"$ref": "#"}}, "required": ["a"]},
               {"type": ["array", "object", 5]}, {"enum": []}, {"type": "integer", "minimum": 10, "maximum": -10},
               {"type": "object", "required": "a"}, {"anyOf": []}, {"type": "array", "items": [], "maxItems": 2**63 - 1},
               {"type": "object", "properties": {str(i): {"type": "string"} for i in range(2000)}}, "schema", None, [], 7]


class Raw(str):
    """Text spliced into the serialized body as is (invalid JSON on purpose)."""


def nasty(rng, budget):
    giant = budget > 256 << 10 and rng.random() < 0.002
    size = rng.randint(256 << 10, budget) if giant else rng.choice([0, 1, 1000, 70000])
    choices = [None, True, False, 0, -1, 2**63, -2**63 - 1, 2**64, 10**400, 1e308, -1e-320, 1.5, "", "x" * size, "\u0000", "a\u0000b",
               "\ud800", "\uffff\ufffe", "\U0001F600" * 3, {}, [], [[]], {"": None}, {"type": None}, [None] * 100,
               Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1e999999"), Raw("-0"), Raw("0x10"), Raw("01"), Raw("tru"),
               Raw("'x'"), Raw('"\\x"'), Raw('"\\u12"'), Raw('"\\ud800\\udbff"'), Raw("[" * rng.choice([64, 512, 100000])),
               Raw("[" * 5000 + "]" * 5000), Raw('{"a":' * 3000 + "1" + "}" * 3000), Raw(" " * 100000 + "1")]
    return rng.choice(choices)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, prefix + (i,))


def get_at(root, path):
    for step in path:
        root = root[step]
    return root


def set_at(root, path, value):
    if not path:
        return value
    node = root
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return root


def mutate(rng, max_body):
    """One malformed body: (endpoint, bytes, content type)."""
    endpoint, seed = rng.choice(SEEDS)
    body = json.loads(json.dumps(seed))
    if seed is SCHEMA and rng.random() < 0.5:
        body["response_format"]["json_schema"]["schema"] = rng.choice(BAD_SCHEMAS)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(list(paths(body)))
        roll = rng.random()
        if roll < 0.6:
            body = set_at(body, path, nasty(rng, max_body // 2))
        elif roll < 0.75 and path:
            del get_at(body, path[:-1])[path[-1]]
        elif roll < 0.9 and isinstance(body, dict):
            body[rng.choice(["n", "seed", "logprobs", "top_logprobs", "logit_bias", "stream_options", "tool_choice", "zzz", "parallel_tool_calls",
                             "response_format", "max_completion_tokens", "frequency_penalty", "dimensions"])] = nasty(rng, 1000)
        else:
            inner = get_at(body, path)
            body = set_at(body, path, [inner] if rng.random() < 0.5 else {"wrapped": inner})
        if not isinstance(body, (dict, list)):
            break
    raws = {}

    def hide(value):
        if isinstance(value, Raw):
            raws[f"__RAW{len(raws)}__"] = value
            return f"__RAW{len(raws) - 1}__"
        if isinstance(value, dict):
            return {k: hide(v) for k, v in value.items()}
        if isinstance(value, list):
            return [hide(v) for v in value]
        return value

    text = json.dumps(hide(body), ensure_ascii=rng.random() < 0.5)
    for marker, raw in raws.items():
        text = text.replace(f'"{marker}"', raw)
    data = text.encode("utf-8", "surrogatepass")
    roll = rng.random()
    if roll < 0.15:
        data = data[: rng.randrange(len(data) + 1)]
    elif roll < 0.25:
        at = rng.randrange(len(data) + 1)
        data = data[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x00", b"\xef\xbb\xbf"]) + data[at:]
    elif roll < 0.3:
        data = rng.choice([b"", b"null", b"[]", b"1", b'"s"', b"\xef\xbb\xbf" + data, data + b" trailing", data + data, bytes(rng.randrange(256) for _ in range(64))])
    elif roll < 0.35:
        data = data.replace(b'"model"', b'"model":"ref-chat","model"', 1)
    content_type = "application/json" if rng.random() < 0.9 else rng.choice(["text/plain", "application/x-www-form-urlencoded", ""])
    return endpoint, data[:max_body], content_type


async def run_bodies(args, work):
    hub, _ = start_fleet(work / "bodies", node_args=("--concurrency", "512"))
    rng = random.Random(args.seed)
    statuses, codes, errors, crashes = collections.Counter(), collections.Counter(), collections.Counter(), []
    in_flight, slowest = {}, []
    restart = asyncio.Lock()
    deadline = time.monotonic() + args.time_limit
    sent = 0

    async def one(client, n):
        endpoint, data, content_type = mutate(rng, args.max_body)
        in_flight[n] = (endpoint, data)
        started = time.perf_counter()
        try:
            response = await client.post(f"/{endpoint.replace('chat', 'chat/completions')}", content=data,
                                         headers={"Content-Type": content_type} if content_type else {})
            statuses[response.status_code] += 1
            slowest.append((time.perf_counter() - started, response.status_code, len(data), data[:60]))
            slowest.sort(key=lambda s: -s[0])
            del slowest[5:]
            if response.status_code >= 500:
                try:
                    codes[(response.status_code, response.json()["error"]["code"])] += 1
                except (ValueError, KeyError, TypeError):
                    codes[(response.status_code, "<not an OpenAI error>")] += 1
        except httpx.HTTPError as error:
            errors[type(error).__name__] += 1
            async with restart:
                if hub.process.proc.poll() is not None:
                    path = work / f"crash-{len(crashes) + 1}.jsonl"
                    with open(path, "w") as f:
                        for endpoint_, data_ in in_flight.values():
                            f.write(json.dumps({"endpoint": endpoint_, "body_b64": base64.b64encode(data_).decode()}) + "\n")
                    crashes.append((hub.process.proc.returncode, str(path), hub.process.log()[-2000:]))
                    hub.process.start()
                    wait_until(hub.healthy, timeout=30, what="the hub to restart")
        finally:
            del in_flight[n]

    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=hub.base_url, headers={"Authorization": f"Bearer {hub.api_key}"}, limits=limits, timeout=30) as client:
        queue = iter(range(args.bodies))

        async def worker():
            nonlocal sent
            for n in queue:
                if time.monotonic() > deadline:
                    return
                sent += 1
                await one(client, n)

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.monotonic() - started
    alive = hub.process.proc.poll() is None and hub.healthy()
    hub.stop()
    server_errors = sum(n for s, n in statuses.items() if s >= 500 and s not in (502, 503))
    return {
        "sent": f"{sent}/{args.bodies} in {elapsed:.0f} s ({sent / elapsed:.0f}/s, {args.concurrency} connections)",
        "statuses": dict(sorted(statuses.items())), "5xx (not 502/503)": server_errors,
        "502/503 by code": {f"{s} {c}": n for (s, c), n in codes.items() if s in (502, 503)},
        "other 5xx by code": {f"{s} {c}": n for (s, c), n in codes.items() if s not in (502, 503)},
        "transport errors": dict(errors), "crashes": len(crashes), "crash files": [c[1] for c in crashes],
        "crash exit codes": [c[0] for c in crashes], "hub up at end": alive,
        "slowest (s, status, bytes, start)": [f"{t:.2f} {st} {size} {head!r}" for t, st, size, head in slowest],
        "_crash_logs": [c[2] for c in crashes],
    }

# ---------------------------------------------------------------- (b) kill -9 during load


def start_fleet(path, hub_args=(), node_args=()):
    path.mkdir(parents=True, exist_ok=True)
    hub = Hub(path, extra_args=QUIET + tuple(hub_args))
    try:
        hub.start().with_account("soak")
        hub.node = hub.add_node(hub.account_id, path, extra_args=QUIET + tuple(node_args)).start()
    except BaseException:
        hub.stop()
        raise
    return hub, hub.node


async def kill_trial(path, requests, kill_after, concurrency):
    hub, _ = start_fleet(path, node_args=("--token-delay-ms", "2", "--concurrency", "64"))
    acked, seen, failed = set(), set(), 0
    killed = False

    async def one(client, i):
        nonlocal killed, failed
        stream = i % 2 == 1
        body = {"model": "ref-chat", "stream": stream, "messages": [{"role": "user", "content": f"request {i} " + "w " * (i % 40)}]}
        try:
            async with client.stream("POST", "/chat/completions", json=body) as response:
                rid = response.headers.get("x-request-id")
                seen.add(rid)
                ok = response.status_code == 200
                if stream:
                    finished = done = False
                    async for line in response.aiter_lines():
                        if line == "data: [DONE]":
                            done = True
                        elif line.startswith("data: {") and any(c.get("finish_reason") for c in json.loads(line[6:]).get("choices", [])):
                            finished = True
                    ok = ok and finished and done
                else:
                    ok = ok and "choices" in json.loads(await response.aread())
        except (httpx.HTTPError, ValueError):
            ok = False
        if not ok:
            failed += 1
            return
        acked.add(rid)
        if len(acked) >= kill_after and not killed:
            killed = True
            hub.process.proc.kill()

    async with httpx.AsyncClient(base_url=hub.base_url, headers={"Authorization": f"Bearer {hub.api_key}"}, timeout=30,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        queue = iter(range(requests))

        async def worker():
            for i in queue:
                if killed:
                    return
                await one(client, i)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    hub.process.stop(sig_kill=True)
    restarted = True
    try:
        hub.process.start()
        wait_until(hub.healthy, timeout=30, what="the hub to restart")
        rows = hub.admin("GET", "usage?limit=10000")["data"]
    except AssertionError:
        restarted, rows = False, []
    hub.stop()
    recorded = {r["request_id"] for r in rows}
    ok_rows = {r["request_id"] for r in rows if r["status"] == 200}
    return {"acked": len(acked), "failed or cut": failed, "rows": len(rows), "restarted": restarted,
            "acked without row": len(acked - recorded), "200 rows never acked": len(ok_rows - acked),
            "200 rows for requests the client never saw": len(ok_rows - seen)}


async def run_kills(args, work):
    trials = []
    deadline = time.monotonic() + args.time_limit
    for n in range(args.kill_trials):
        if time.monotonic() > deadline:
            break
        try:
            trials.append(await kill_trial(work / f"kill-{n}", args.kill_requests, args.kill_requests // 2, 16))
        except AssertionError as error:  # a fleet that did not come up (porten_fleet's wait_until)
            trials.append({"acked": 0, "acked without row": 0, "200 rows never acked": 0, "restarted": False, "error": str(error)})
        print(f"  kill trial {n + 1}: {trials[-1]}", flush=True)
    total = lambda key: sum(t[key] for t in trials)
    return {"trials": len(trials), "acknowledged answers": total("acked"), "acked without usage row": total("acked without row"),
            "200 rows never acknowledged": total("200 rows never acked"), "hub failed to restart": sum(not t["restarted"] for t in trials),
            "trials losing rows": sum(t["acked without row"] > 0 for t in trials)}

# ---------------------------------------------------------------- (c) idle sockets vs a 1024-fd Hub


async def run_fds(args, work):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    path = work / "fds"
    path.mkdir(parents=True)
    hub = Hub(path, extra_args=QUIET)
    # soft 1024 (and the hard limit too with --fd-hard-limit) for the Hub only; this process holds the idle sockets
    hub.process.args = ["prlimit", f"--nofile=1024:{args.fd_hard_limit or hard}", "--", *hub.process.args]
    hub.start().with_account("soak")
    hub.node = hub.add_node(hub.account_id, path, extra_args=QUIET).start()
    with open(f"/proc/{hub.process.proc.pid}/limits") as f:
        hub_limit = next(" ".join(line.split()[3:5]) for line in f if line.startswith("Max open files"))
    idle, refused = [], 0
    for _ in range(args.idle_sockets):
        try:
            idle.append(socket.create_connection(("127.0.0.1", hub.port), timeout=2))
        except OSError:
            refused += 1
    await asyncio.sleep(1)
    latencies, failures = [], collections.Counter()
    body = {"model": "ref-chat", "messages": [{"role": "user", "content": "ping"}]}
    deadline = time.monotonic() + args.time_limit
    async with httpx.AsyncClient(base_url=hub.base_url, headers={"Authorization": f"Bearer {hub.api_key}"}, timeout=10) as client:
        for _ in range(args.fd_requests):
            if time.monotonic() > deadline or sum(failures.values()) >= 20:
                break
            started = time.perf_counter()
            try:
                response = await client.post("/chat/completions", json=body)
                if response.status_code == 200:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    failures[response.status_code] += 1
            except httpx.HTTPError as error:
                failures[type(error).__name__] += 1
    closed_by_hub = 0
    for sock in idle:
        sock.setblocking(False)
        try:
            closed_by_hub += sock.recv(1) == b""
        except (BlockingIOError, OSError):
            pass
        sock.close()
    alive = hub.process.proc.poll() is None and hub.healthy()
    hub.stop()
    attempts = len(latencies) + sum(failures.values())
    pick = lambda q: sorted(latencies)[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
    return {"hub open files (soft hard)": hub_limit, "idle sockets opened": len(idle), "refused at connect": refused, "closed by the hub meanwhile": closed_by_hub,
            "requests": attempts, "success rate": f"{len(latencies) / max(1, attempts):.1%}", "failures": dict(failures),
            "latency ms median/p99/max": f"{statistics.median(latencies) if latencies else float('nan'):.1f}/{pick(0.99):.1f}/"
                                         f"{max(latencies, default=float('nan')):.1f}", "hub up at end": alive}

# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bodies", type=int, default=100000)
    parser.add_argument("--concurrency", type=int, default=64, help="connections for the malformed bodies")
    parser.add_argument("--max-body", type=int, default=4 << 20, help="largest generated body (the Hub's limit is 16 MiB)")
    parser.add_argument("--kill-trials", type=int, default=10)
    parser.add_argument("--kill-requests", type=int, default=300)
    parser.add_argument("--idle-sockets", type=int, default=1000)
    parser.add_argument("--fd-requests", type=int, default=200, help="legitimate requests in (c); it stops after 20 failures")
    parser.add_argument("--fd-hard-limit", type=int, help="(c) also lowers the Hub's hard open-files limit (default: only the soft one)")
    parser.add_argument("--time-limit", type=float, default=900, help="seconds per phase")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="a,b,c")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, crash bodies)")
    args = parser.parse_args()
    phases = {"a": ("malformed bodies", run_bodies), "b": ("kill -9 during load", run_kills), "c": ("idle sockets, 1024 fds", run_fds)}
    work = Path(tempfile.mkdtemp(prefix="porten-soak-"))
    print(f"binary={PORTEN_BIN} work={work}", flush=True)
    results = {}
    for key in args.only.split(","):
        name, run = phases[key]
        print(f"== ({key}) {name}", flush=True)
        started = time.monotonic()
        results[name] = asyncio.run(run(args, work))
        results[name]["phase seconds"] = round(time.monotonic() - started)
    print("\n== summary")
    for name, result in results.items():
        print(f"({name})")
        for field, value in result.items():
            if not field.startswith("_"):
                print(f"    {field:<44} {value}")
        for log in result.get("_crash_logs", [])[:3]:
            print("    crash log tail:\n      " + log[-800:].replace("\n", "\n      "))
    if not args.keep and not any(r.get("crashes") for r in results.values()):
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    bad = results.get("malformed bodies", {})
    kills = results.get("kill -9 during load", {})
    fds = results.get("idle sockets, 1024 fds", {})
    findings = (bad.get("crashes", 0) + bad.get("5xx (not 502/503)", 0) + kills.get("acked without usage row", 0)
                + kills.get("hub failed to restart", 0) + int(bool(fds) and fds["success rate"] != "100.0%"))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
