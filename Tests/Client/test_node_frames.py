"""What a real node agent sends over its tunnel, seen from a Hub that is a test program speaking the
protocol (docs/node-protocol.md): an answer read whole comes in fewer frames, and in one frame to a
Hub whose welcome says `end_text`. A Hub that does not say it (an older one) still gets every piece
of text in a `delta` before the `end`."""
import json
import queue
import threading

import pytest
from websockets.sync.server import serve

from porten_fleet import PORTEN_BIN, Process, free_port


class FakeHub:
    """Accepts one node's tunnel, welcomes it (with `end_text` or not) and sends it `infer` frames;
    every frame the node sends is queued in `frames`."""

    def __init__(self, end_text):
        self.end_text, self.frames, self.hello, self.ws = end_text, queue.Queue(), None, None
        self.connected = threading.Event()
        self.server = serve(self._handle, "127.0.0.1", free_port())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.socket.getsockname()[1]}"

    def _handle(self, ws):
        self.hello = json.loads(ws.recv(timeout=10))
        welcome = {"type": "welcome", "node_id": "node_t", "region": "eu", "trust_class": "verified",
                   "accepted_models": [m["id"] for m in self.hello["models"]]}
        if self.end_text is not None:
            welcome["end_text"] = self.end_text
        ws.send(json.dumps(welcome))
        self.ws = ws
        self.connected.set()
        for text in ws:
            self.frames.put(json.loads(text))

    def answer(self, request_id, stream=False, content="ping"):
        """Sends one chat `infer` and returns the node's frames for it, up to its `end` or `fail`."""
        model = self.hello["models"][0]["id"]
        body = {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}
        self.ws.send(json.dumps({"type": "infer", "id": request_id, "kind": "chat", "model": model, "body": body, "capabilities": []}))
        frames = []
        while not frames or frames[-1]["type"] not in ("end", "fail"):
            frame = self.frames.get(timeout=15)
            if frame.get("id") == request_id:
                frames.append(frame)
        return frames

    def close(self):
        self.server.shutdown()


@pytest.fixture
def node_with(tmp_path):
    started = []

    def start(end_text):
        hub = FakeHub(end_text)
        node = Process([PORTEN_BIN, "node", "--hub", hub.url, "--credential", "pnode-test", "--engine", "sim"], tmp_path / f"node{len(started)}.log")
        node.start()
        started.append((hub, node))
        assert hub.connected.wait(15), node.log()
        return hub

    yield start
    for hub, node in started:
        node.stop()
        hub.close()


def text_of(frames):
    return "".join(f.get("content") or "" for f in frames)


def test_a_short_answer_read_whole_is_one_end_frame_carrying_its_text(node_with):
    hub = node_with(end_text=True)
    frames = hub.answer("req_one")
    assert [f["type"] for f in frames] == ["end"], frames
    end = frames[0]
    assert end["content"] == "Echo: ping" and end["finish_reason"] == "stop", end
    # The sim's pieces, counted as the Hub counts deltas.
    assert end.get("pieces", 1) > 1 and end["usage"]["completion_tokens"] > 0, end


def test_an_older_hub_gets_the_text_in_a_delta_before_the_end(node_with):
    for end_text in (None, False):
        hub = node_with(end_text=end_text)
        frames = hub.answer("req_old")
        # The first piece at once (this Hub dates the first token from it), the rest in deltas
        # (one, unless this machine stalls for 250 ms) before an end without text.
        assert [f["type"] for f in frames[:-1]] == ["delta"] * (len(frames) - 1) and frames[-1]["type"] == "end", frames
        assert len(frames) >= 3 and "held_ms" not in frames[0] and "pieces" not in frames[0], frames
        assert text_of(frames) == "Echo: ping" and "content" not in frames[-1], frames


def test_a_streamed_answer_still_goes_piece_by_piece(node_with):
    hub = node_with(end_text=True)
    frames = hub.answer("req_stream", stream=True)
    assert [f["type"] for f in frames[:-1]] == ["delta"] * (len(frames) - 1) and len(frames) > 2, frames
    assert frames[-1]["type"] == "end" and "content" not in frames[-1], frames[-1]
    assert text_of(frames) == "Echo: ping" and all("pieces" not in f for f in frames), frames
