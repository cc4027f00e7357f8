"""A local stand-in for the risk second stage's HTTP classifiers (RISK_BACKENDS), and a webhook receiver.

    with FakeClassifier() as fake:               # fake.url is a backend's `url` (…/v1)
        fake.label("I'll see grandma tonight", "explicit", "suicide")   # the chat answer for that text
        fake.flag("some text", "self-harm/intent")                      # a moderation category flagged
        fake.behave("error")                     # every answer from now on; or a list, used in order
        fake.wait_for(lambda requests: len(requests) == 2)

It answers `POST /v1/chat/completions` (OpenAI's chat format; the label is read from the user
prompt's message) and `POST /v1/moderations` (a result per input). Behaviours: "answer" (the
default), "error" (500), "garbage" (200, a content that is not JSON), "bad_label" (200, a level we
do not know), "think" (200, a <think> block and a code fence around the JSON), "hang" (no answer
until release() or stop(): the client's read timeout fires). Any other POST path (`/hooks`) is a
webhook receiver: recorded, answered 200.
"""
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WAIT = 20


@dataclass
class Request:
    path: str
    body: dict
    headers: dict = field(default_factory=dict)
    status: int | None = None  # what the stand-in answered (None: it never answered)

    @property
    def text(self):
        """The message a chat request asked about."""
        content = self.body["messages"][-1]["content"]
        return json.loads(content.split(":", 1)[1])


class FakeClassifier:
    def __init__(self):
        self.requests: list[Request] = []
        self.hooks: list[Request] = []
        self.labels: dict[str, tuple] = {}
        self.flags: dict[str, set] = {}
        self._script: list[str] = ["answer"]
        self._changed = threading.Condition()
        self._release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                fake._answer(self, Request(self.path, body, dict(self.headers)))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = self.base + "/v1"
        self.hook_url = self.base + "/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # --- set-up ------------------------------------------------------------------------------------

    def label(self, text, level, category=None):
        self.labels[text] = (level, category)

    def flag(self, text, *categories):
        self.flags[text] = set(categories)

    def behave(self, behaviour):
        """One behaviour for every answer, or a list used in order (the last one then stays)."""
        self._script = list(behaviour) if isinstance(behaviour, (list, tuple)) else [behaviour]

    def release(self):
        self._release.set()

    def backend(self, kind="openai_chat", **extra):
        """A RISK_BACKENDS entry pointing here."""
        entry = {"kind": kind, "name": extra.pop("name", "standin" if kind == "openai_chat" else "standin-mod"),
                 "url": self.url, "timeout": 5, "connect_timeout": 2}
        if kind == "openai_chat":
            entry["model"] = "standin-1"
        entry.update(extra)
        return entry

    # --- answers -----------------------------------------------------------------------------------

    def _next_behaviour(self):
        with self._changed:
            return self._script.pop(0) if len(self._script) > 1 else self._script[0]

    def _answer(self, handler, request):
        if not request.path.startswith("/v1/"):
            with self._changed:
                self.hooks.append(request)
                self._changed.notify_all()
            self._send(handler, request, 200, b"ok")
            return
        behaviour = self._next_behaviour()
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()
        if behaviour == "hang":
            self._release.wait(WAIT)
            return
        if behaviour == "error":
            self._send(handler, request, 500, b'{"error": {"message": "internal error"}}')
            return
        if request.path.endswith("/moderations"):
            inputs = request.body.get("input")
            inputs = inputs if isinstance(inputs, list) else [inputs]
            results = [{"flagged": bool(self.flags.get(text)),
                        "categories": {name: name in self.flags.get(text, ()) for name in (
                            "self-harm", "self-harm/intent", "self-harm/instructions", "violence",
                            "violence/graphic", "harassment", "sexual")},
                        "category_scores": {}} for text in inputs]
            if behaviour == "garbage":
                results = results[:-1]  # one result short: unreadable
            payload = {"id": "modr-1", "model": request.body.get("model", ""), "results": results}
            self._send(handler, request, 200, json.dumps(payload).encode())
            return
        level, category = self.labels.get(request.text, ("none", None))
        content = json.dumps({"level": level, "category": category})
        if behaviour == "garbage":
            content = "I am not sure, this message seems fine to me."
        elif behaviour == "bad_label":
            content = json.dumps({"level": "severe", "category": "suicide"})
        elif behaviour == "think":
            content = f"<think>The user says something; level? {{\"level\": \"none\"}}</think>\n```json\n{content}\n```"
        payload = {"id": "chatcmpl-1", "object": "chat.completion", "model": request.body.get("model"),
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop"}]}
        self._send(handler, request, 200, json.dumps(payload).encode())

    def _send(self, handler, request, status, data):
        request.status = status
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    # --- waiting -----------------------------------------------------------------------------------

    def wait_for(self, predicate, timeout=WAIT, hooks=False):
        """Block until predicate(requests) (or predicate(hooks)) is true; fails after `timeout`."""
        seen = (lambda: self.hooks) if hooks else (lambda: self.requests)
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(seen()), timeout):
                raise AssertionError(f"classifier stand-in: condition not met; requests were {seen()}")
            return list(seen())

    def stop(self):
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
