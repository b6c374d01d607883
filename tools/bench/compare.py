"""Side by side, on one loopback run: what a request costs through Porten next to the usual ways.

Four systems answer the same non-streamed chat completion:
  upstream  nginx answering a fixed chat completion itself (the instant upstream; 1 worker)
  nginx     nginx proxying to it (1 worker, keep-alive upstream connections): the passthrough limit
  litellm   LiteLLM's proxy (PyPI litellm[proxy], one worker: 1.108.7 fails to start two without a database)
  porten    a Porten Hub and a node with the `openai` engine in front of the upstream
For each, wrk at c=1 and c=32: latency percentiles, successful requests/s, non-2xx, and the CPU
time each process spent per successful request (from /proc, so wrk's own CPU is left out).
Then streaming: the relay cost per SSE chunk through nginx and through Porten (upstream: nginx
answering a fixed stream of --chunks chunks), the same answer asked for non-streamed through
Porten (`porten-whole`: CPU per request for an answer the Hub assembles), and the memory per idle
stream with --streams slow streams open through Porten (a sim node that sends nothing for a
minute).

Usage: compare.py --binary .build/release/porten [--duration 8] [--streams 1000] [--chunks 16]
Needs nginx, wrk and .venv-litellm (tools/install-deps --bench). A benchmark, not a test.
"""
import argparse
import asyncio
import json
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from porten_fleet import ROOT, TICK_US, Hub, Process, answers_ok, free_port, wait_until  # noqa: E402

COMPLETION = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "bench-model",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!", "refusal": None}, "logprobs": None,
                           "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}
REQUEST = {"model": "bench-model", "messages": [{"role": "user", "content": "Hello, world!"}]}


def wait_http(url, headers=None, timeout=60, body=None):
    """Until `url` answers 200 (a POST of `body` as JSON when given)."""
    wait_until(lambda: answers_ok(url, headers, body), timeout=timeout, interval=0.2, what=f"{url} to answer 200")


def stream_body(chunks):
    """A fixed SSE answer: a role chunk, `chunks` content chunks, a finish chunk, [DONE]."""
    def chunk(delta, finish=None):
        return "data: " + json.dumps({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": "bench-stream",
                                      "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]},
                                     separators=(",", ":")) + "\n\n"
    return chunk({"role": "assistant", "content": ""}) + "".join(chunk({"content": f"w{i} "}) for i in range(chunks)) \
        + chunk({}, "stop") + "data: [DONE]\n\n"


def completion_stream_body():
    """COMPLETION as the stream a server sends the node (which always asks for one, with usage)."""
    def chunk(choices, usage=None):
        return "data: " + json.dumps({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": "bench-model",
                                      "choices": choices, **({"usage": usage} if usage else {})}, separators=(",", ":")) + "\n\n"
    return chunk([{"index": 0, "delta": {"role": "assistant", "content": "Hello!"}, "logprobs": None, "finish_reason": None}]) \
        + chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]) + chunk([], COMPLETION["usage"]) + "data: [DONE]\n\n"


def stop_on_sigterm():
    """SIGTERM (`timeout`, a cancelled job) ends a run as Ctrl-C does: the `finally` blocks stop
    every process it started (each runs in its own session, so none would die with this one)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def nginx(name, work, server_block):
    """An nginx of one worker with `server_block` inside http {}."""
    prefix = os.path.join(work, name)
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off; worker_processes 1; pid {prefix}/nginx.pid; error_log {prefix}/logs/error.log warn;
events {{ worker_connections 8192; }}
http {{ access_log off; client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fcgi; uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;
{server_block}
}}
""")
    return Process(["nginx", "-p", prefix, "-c", conf], os.path.join(work, f"{name}.log"), session=True, name=name).start()


def wrk(url, connections, duration, headers, body, work):
    """wrk against `url`; returns its numbers."""
    script = os.path.join(work, "post.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = ' + json.dumps(json.dumps(body)) + "\n")
        for name, value in {"Content-Type": "application/json", **headers}.items():
            f.write(f'wrk.headers["{name}"] = "{value}"\n')
    threads = 1 if connections == 1 else 2
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script, url],
                         capture_output=True, text=True, check=True).stdout

    def ms(text):
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    percentiles = {p: ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M)}
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {"total": total, "ok": total - non2xx, "non2xx": non2xx, "errors": errors, "p50": percentiles.get("50"),
            "p90": percentiles.get("90"), "p99": percentiles.get("99")}


def measure(system, url, connections, duration, headers, body, processes, work):
    before = {p.name: p.cpu_ticks() for p in processes}
    started = time.monotonic()
    result = wrk(url, connections, duration, headers, body, work)
    elapsed = time.monotonic() - started
    result["rps"] = result["ok"] / elapsed
    result["cpu_us"] = {p.name: (p.cpu_ticks() - before[p.name]) * TICK_US / max(result["ok"], 1) for p in processes}
    result.update(system=system, c=connections)
    return result


async def hold_streams(url, key, count):
    """Opens `count` streamed requests and keeps them open; returns the writers."""
    body = json.dumps({"model": "ref-chat", "stream": True, "messages": [{"role": "user", "content": "hold"}]})
    host, port = url.split("//")[1].split("/")[0].split(":")
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
    writers = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        writers.append((reader, writer))
    await asyncio.gather(*(w.drain() for _, w in writers))
    return writers


def bench_fleet(binary, work, upstream, stream_upstream, extra_nodes=()):
    """A Hub (process `porten-hub`) offering bench-model, bench-stream and ref-chat, with an
    account and key, and its nodes connected: `porten-node` (`openai` engine, bench-model),
    `porten-stream-node` (bench-stream), then `extra_nodes`, (name, arguments) pairs. The
    bench-model node asks `upstream`'s /sse/ for its answer: the node always streams from its upstream."""
    catalog = {"models": [{"id": m, "type": "chat", "ctx": 8192, "vram_mb": 100, "disk_mb": 1} for m in ("bench-model", "bench-stream", "ref-chat")]}
    hub = Hub(work, ("--log-level", "warning"), name="porten-hub", binary=binary, catalog=catalog, session=True)
    try:
        hub.start().with_account("bench")
        for name, args in [("porten-node", ["--engine", "openai", "--engine-url", upstream + "/sse/v1", "--engine-api-key", "x", "--models", "bench-model",
                                            "--concurrency", "256"]),
                           ("porten-stream-node", ["--engine", "openai", "--engine-url", stream_upstream + "/v1", "--engine-api-key", "x",
                                                   "--models", "bench-stream", "--concurrency", "256"]), *extra_nodes]:
            hub.add_node(hub.account_id, work, name, ("--log-level", "warning", *args), engine=None).start(wait=False)
        hub.wait_nodes_connected()
    except BaseException:
        hub.stop()
        raise
    return hub


def fleet_processes(hub):
    """The Hub's process, then its nodes' in the order they were added."""
    return [hub.process, *(node.process for node in hub.nodes)]


def main():
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.environ.get("PORTEN_BIN", os.path.join(ROOT, ".build/release/porten")))
    parser.add_argument("--litellm", default=os.path.join(ROOT, ".venv-litellm/bin/litellm"))
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=16)  # nginx keeps a return text under 4 KB
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--only", default="upstream,nginx,litellm,porten,stream,idle",
                        help="comma-separated parts to run (default: all): upstream, nginx, litellm, porten, stream, idle")
    parser.add_argument("--baseline", metavar="BINARY", help="also measure this porten build (e.g. an older commit's) as porten-baseline")
    parser.add_argument("--perf", metavar="FILE", help="record `perf record -g` of the Hub and the node during Porten at c=32 into FILE")
    args = parser.parse_args()
    only = set(args.only.split(","))
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: tools/install-deps --bench")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = []
    with tempfile.TemporaryDirectory() as work:
        up_port, stream_port, proxy_port, litellm_port = free_port(), free_port(), free_port(), free_port()
        upstream = nginx("upstream", work, f"""server {{ listen 127.0.0.1:{up_port};
  location /sse/ {{ default_type text/event-stream; return 200 '{completion_stream_body()}'; }}
  location / {{ default_type application/json; return 200 '{json.dumps(COMPLETION, separators=(",", ":"))}'; }} }}""")
        stream_upstream = nginx("stream-upstream", work, f"""server {{ listen 127.0.0.1:{stream_port};
  location / {{ default_type text/event-stream; return 200 '{stream_body(args.chunks)}'; }} }}""")
        proxy = nginx("nginx-proxy", work, f"""upstream up {{ server 127.0.0.1:{up_port}; keepalive 64; }}
  upstream sse {{ server 127.0.0.1:{stream_port}; keepalive 64; }}
  server {{ listen 127.0.0.1:{proxy_port};
    location /stream/ {{ proxy_pass http://sse/; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }}
    location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}""")
        everything = [upstream, stream_upstream, proxy]
        try:
            wait_http(f"http://127.0.0.1:{up_port}/v1/chat/completions", body=REQUEST)
            wait_http(f"http://127.0.0.1:{proxy_port}/v1/chat/completions", body=REQUEST)
            fleet = bench_fleet(args.binary, work, f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{stream_port}",
                                extra_nodes=[("porten-sim", ["--engine", "sim", "--models", "ref-chat", "--concurrency", str(args.streams + 16),
                                                             "--token-delay-ms", "60000"])])
            porten, hub_url, key = fleet_processes(fleet), fleet.url, fleet.api_key
            everything += porten
            auth = {"Authorization": f"Bearer {key}"}
            wait_http(hub_url + "/v1/chat/completions", headers=auth, body=REQUEST)
            litellm = None
            if "litellm" not in only:
                pass
            elif os.path.exists(args.litellm):
                config = os.path.join(work, "litellm.yaml")
                with open(config, "w") as f:
                    f.write(f"model_list:\n  - model_name: bench-model\n    litellm_params:\n      model: openai/bench-model\n"
                            f"      api_base: http://127.0.0.1:{up_port}/v1\n      api_key: x\n")
                # Recent LiteLLM refuses to start without a master key; with one, requests present it.
                litellm_auth = {"Authorization": "Bearer sk-" + secrets.token_hex(16)}
                litellm = Process([args.litellm, "--config", config, "--port", str(litellm_port), "--host", "127.0.0.1"],
                                  os.path.join(work, "litellm.log"), session=True, name="litellm",
                                  env={**os.environ, "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False",
                                       "LITELLM_MASTER_KEY": litellm_auth["Authorization"].removeprefix("Bearer ")}).start()
                everything.append(litellm)
                wait_http(f"http://127.0.0.1:{litellm_port}/v1/chat/completions", headers=litellm_auth, body=REQUEST, timeout=180)
            else:
                print(f"(no LiteLLM at {args.litellm}: tools/install-deps --bench)", file=sys.stderr)
            baseline = None
            if args.baseline:
                os.makedirs(os.path.join(work, "baseline"))
                other = bench_fleet(args.baseline, os.path.join(work, "baseline"), f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{stream_port}")
                baseline = (fleet_processes(other), other.url, other.api_key)
                everything += baseline[0]
                wait_http(baseline[1] + "/v1/chat/completions", headers={"Authorization": f"Bearer {baseline[2]}"}, body=REQUEST)
            systems = [("upstream", f"http://127.0.0.1:{up_port}/v1/chat/completions", {}, [upstream]),
                       ("nginx", f"http://127.0.0.1:{proxy_port}/v1/chat/completions", {}, [proxy, upstream]),
                       ("porten", hub_url + "/v1/chat/completions", auth, [porten[0], porten[1], upstream])]
            if baseline:
                systems.append(("porten-baseline", baseline[1] + "/v1/chat/completions", {"Authorization": f"Bearer {baseline[2]}"},
                                [baseline[0][0], baseline[0][1], upstream]))
                only.add("porten-baseline")
            if litellm:
                systems.insert(2, ("litellm", f"http://127.0.0.1:{litellm_port}/v1/chat/completions", litellm_auth, [litellm, upstream]))
            for name, url, headers, processes in systems:
                if name not in only:
                    continue
                for connections in (1, 32):
                    wrk(url, connections, 2, headers, REQUEST, work)  # warm-up
                    recorder = None
                    if args.perf and name == "porten" and connections == 32:
                        pids = ",".join(str(p) for process in porten[:2] for p in process.pids())
                        recorder = subprocess.Popen(["perf", "record", "-q", "-g", "-o", args.perf, "-p", pids],
                                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    result = measure(name, url, connections, args.duration, headers, REQUEST, processes, work)
                    if recorder:
                        recorder.send_signal(signal.SIGINT)
                        recorder.wait(timeout=60)
                    results.append(result)
                    print(json.dumps(result), flush=True)
            # Streaming: CPU per relayed chunk.
            stream_request = {**REQUEST, "model": "bench-stream", "stream": True}
            streams = [("nginx", f"http://127.0.0.1:{proxy_port}/stream/v1/chat/completions", {}, [proxy]),
                       ("porten", hub_url + "/v1/chat/completions", auth, [porten[0], porten[2]])]
            if baseline:
                streams.append(("porten-baseline", baseline[1] + "/v1/chat/completions", {"Authorization": f"Bearer {baseline[2]}"},
                                [baseline[0][0], baseline[0][2]]))
            for name, url, headers, processes in streams if "stream" in only else []:
                result = measure(name + "-stream", url, 8, args.duration, headers, stream_request, processes, work)
                result["cpu_us_per_chunk"] = {k: v / (args.chunks + 3) for k, v in result["cpu_us"].items()}
                result["chunks_per_s"] = result["rps"] * (args.chunks + 3)
                results.append(result)
                print(json.dumps(result), flush=True)
            # A non-streamed request whose answer comes as chunks: CPU per request for an answer the
            # Hub assembles from the node's frames.
            whole_request = {**REQUEST, "model": "bench-stream"}
            wholes = [("porten", hub_url + "/v1/chat/completions", auth, [porten[0], porten[2]])]
            if baseline:
                wholes.append(("porten-baseline", baseline[1] + "/v1/chat/completions", {"Authorization": f"Bearer {baseline[2]}"},
                               [baseline[0][0], baseline[0][2]]))
            for name, url, headers, processes in wholes if "stream" in only else []:
                result = measure(name + "-whole", url, 8, args.duration, headers, whole_request, processes, work)
                results.append(result)
                print(json.dumps(result), flush=True)
            # Memory per idle stream through Porten.
            if "idle" not in only:
                return finish(results, args)
            hub, sim = porten[0], porten[3]
            time.sleep(1)
            base = {"hub": hub.rss_kb(), "node": sim.rss_kb()}

            async def idle():
                writers = await hold_streams(hub_url, key, args.streams)
                deadline = time.monotonic() + 60
                def in_flight():
                    return sum(node["in_flight"] for node in fleet.fleet()["nodes"])

                while in_flight() < args.streams:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"only {in_flight()} of {args.streams} streams reached the node")
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1)
                held = {"hub": hub.rss_kb(), "node": sim.rss_kb()}
                for _, writer in writers:
                    writer.close()
                return held

            held = asyncio.run(idle())
            memory = {"system": "porten-idle-streams", "streams": args.streams, "baseline_kb": base, "held_kb": held,
                      "kb_per_stream": {k: (held[k] - base[k]) / args.streams for k in base}}
            results.append(memory)
            print(json.dumps(memory), flush=True)
        finally:
            for process in reversed(everything):
                process.stop()
    return finish(results, args)


def finish(results, args):
    print()
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


def table(results):
    lines = ["| system | c | p50 ms | p90 ms | p99 ms | ok req/s | non-2xx | errors | CPU-µs per request (per process) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "c" not in r:
            continue
        cpu = ", ".join(f"{k} {v:.0f}" for k, v in r["cpu_us"].items())
        if "cpu_us_per_chunk" in r:
            cpu += " — per chunk: " + ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_us_per_chunk"].items())
        lines.append(f"| {r['system']} | {r['c']} | {r['p50']:.3f} | {r['p90']:.3f} | {r['p99']:.3f} | {r['rps']:.0f} | {r['non2xx']} | {r['errors']} | {cpu} |")
    for r in results:
        if "kb_per_stream" in r:
            lines.append("")
            lines.append(f"{r['streams']} idle streams through Porten: hub {r['kb_per_stream']['hub']:.1f} KB per stream, "
                         f"node {r['kb_per_stream']['node']:.1f} KB per stream (RSS {r['baseline_kb']} → {r['held_kb']} KB)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
