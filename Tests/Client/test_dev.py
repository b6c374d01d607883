"""`porten dev` as a new user meets it: the printed settings work with the SDK, and the cold
`ref-large` model loads on first use while the warming endpoint shows the phases."""
import subprocess
import threading
import time

import httpx
from openai import OpenAI

from conftest import PORTEN_BIN, free_port


def test_dev_serves_and_loads_the_cold_model_on_first_use(tmp_path):
    port = free_port()
    proc = subprocess.Popen([PORTEN_BIN, "dev", "--port", str(port), "--data-dir", str(tmp_path / "dev")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        settings = {}
        while len(settings) < 3:
            name, _, value = proc.stdout.readline().strip().partition("=")
            if name.startswith("PORTEN_"):
                settings[name] = value
        client = OpenAI(base_url=settings["PORTEN_BASE_URL"], api_key=settings["PORTEN_API_KEY"], max_retries=0, timeout=60)
        deadline = time.monotonic() + 15
        while not {m.id: m for m in client.models.list().data}["ref-chat"].x_porten["ready"]:
            assert time.monotonic() < deadline, "the dev sim node never connected"
            time.sleep(0.05)
        assert not {m.id: m for m in client.models.list().data}["ref-large"].x_porten["ready"]
        phases, done = [], threading.Event()

        def observe():
            status = httpx.get(f"http://127.0.0.1:{port}/public/v1/models/warming", params={"model": "ref-large"}).json()
            if not phases or phases[-1] != status["phase"]:
                phases.append(status["phase"])

        def watch():
            while not done.is_set():
                observe()
                time.sleep(0.1)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            answer = client.chat.completions.create(model="ref-large", messages=[{"role": "user", "content": "Hi big"}])
        finally:
            done.set()
            watcher.join()
        observe()
        assert answer.choices[0].message.content == "Echo: Hi big"
        assert phases in (["cold", "downloading", "loading", "ready"], ["downloading", "loading", "ready"]), phases
        assert {m.id: m for m in client.models.list().data}["ref-large"].x_porten["ready"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
