"""A local stand-in for Twilio's REST API: the real twilio SDK talks to it over HTTP.

    with FakeTwilio() as twilio:            # twilio.url goes into TWILIO_API_URL
        twilio.behave("+8613900139000", "refuse")   # 400 code 21211 for that number
        ...
        twilio.wait_for(lambda requests: len(requests) == 2)

Behaviours per destination number: "accept" (201 queued, the default), "refuse" (400, 21211),
"error" (500), "busy" (429), "hang" (no answer until stop(): the client's timeout fires).
"""
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

WAIT = 10


@dataclass
class Request:
    kind: str  # "sms" or "call"
    to: str
    body: str
    params: dict = field(default_factory=dict)
    sid: str = ""
    status_code: int | None = None  # what the stand-in answered (None: it never answered)


class FakeTwilio:
    def __init__(self):
        self.requests: list[Request] = []
        self.behaviours: dict[str, str] = {}
        self._changed = threading.Condition()
        self._release = threading.Event()
        self._ids = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                params = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                kind = "call" if self.path.endswith("/Calls.json") else "sms"
                fake._answer(self, kind, params)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def behave(self, number, behaviour):
        self.behaviours[number] = behaviour

    def release(self):
        """Let requests held by the "hold" behaviour be answered."""
        self._release.set()

    def accepted(self):
        """The requests Twilio would have taken (answered 201): what reached a phone."""
        return [r for r in self.requests if r.status_code == 201]

    def _answer(self, handler, kind, params):
        to = params.get("To", "")
        behaviour = self.behaviours.get(to, "accept")
        sid = f"{'CA' if kind == 'call' else 'SM'}{next(self._ids):032d}"
        request = Request(kind, to, params.get("Body", params.get("Twiml", "")), params, sid)
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()
        if behaviour == "hang":
            self._release.wait(30)
            return
        if behaviour == "hold":  # accept, but only once the test calls release()
            self._release.wait(30)
            behaviour = "accept"
        status, payload = {
            "accept": (201, {"sid": sid, "status": "queued", "to": to, "body": request.body}),
            "refuse": (400, {"code": 21211, "message": f"The 'To' number {to} is not a valid phone number.",
                             "status": 400}),
            "error": (500, {"code": 20500, "message": "Internal Server Error", "status": 500}),
            "busy": (429, {"code": 20429, "message": "Too Many Requests", "status": 429}),
        }[behaviour]
        request.status_code = status
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def wait_for(self, predicate, timeout=WAIT):
        """Block until predicate(requests) is true; the requests so far. Fails after `timeout`."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.requests), timeout):
                raise AssertionError(f"Twilio stand-in: condition not met; requests were {self.requests}")
            return list(self.requests)

    def stop(self):
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
