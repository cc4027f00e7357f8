"""7. Second stage: from the POST of a message the rules call `none` to the level raised by a
RISK_BACKENDS classifier, through the real stack (Daphne, the Celery worker, Redis). Target: p99 < 1 s.

The backend is a local stand-in for an OpenAI-compatible chat endpoint that answers at once
(explicit for the test messages, none for the rest), so the figure is the console's own overhead:
the outbox row, the on-commit dispatch, the worker's claim, the HTTP call, the raise, the frame.
Measured to the supervisor's socket receiving `incident.opened` for the raised message (the
console sees it), and to the stand-in receiving the `assessment.raised` webhook (the product
hears of it: one more task). A steady background of benign messages runs meanwhile, each of them
reviewed by the same worker (every user message below explicit gets a review)."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import common

BACKGROUND_RATE = 50
MARKER = "whoever finds them"  # the stand-in calls these explicit
TEXT = "the letters are on my desk for whoever finds them ({})"  # the synchronous stage: none


class StandIn:
    """An OpenAI-compatible /v1/chat/completions answering at once, and a webhook receiver at /hooks."""

    def __init__(self):
        self.hooks = {}  # message id -> arrival (perf_counter)
        self.chat_requests = 0
        self.changed = threading.Condition()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path.startswith("/v1/chat/completions"):
                    text = body["messages"][-1]["content"]
                    label = {"level": "explicit", "category": "suicide"} if MARKER in text else {"level": "none"}
                    data = json.dumps({"choices": [{"message": {"role": "assistant",
                                                                "content": json.dumps(label)}}]}).encode()
                    with stand_in.changed:
                        stand_in.chat_requests += 1
                else:
                    if body.get("type") == "assessment.raised":
                        with stand_in.changed:
                            stand_in.hooks[body["data"]["message"]] = time.perf_counter()
                            stand_in.changed.notify_all()
                    data = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((common.HOST, 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://{common.HOST}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_hook(self, message_id, timeout):
        with self.changed:
            self.changed.wait_for(lambda: message_id in self.hooks, timeout)
            return self.hooks.get(message_id)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def run(quick=False, repeat=3):
    count = 20 if quick else 100
    gap = 0.2
    stand_in = StandIn()
    backends = json.dumps([{"kind": "openai_chat", "name": "standin", "url": stand_in.base + "/v1",
                            "model": "standin", "timeout": 5}])
    to_screen50, to_screen99, to_hook50, to_hook99, rates = [], [], [], [], []
    try:
        with common.Stack(extra_env={"RISK_BACKENDS": backends}) as stack:
            common.django_script(stack.var_dir, "from conversations.models import Product\n"
                                 f"Product.objects.update(webhook_url={stand_in.base + '/hooks'!r})\n"
                                 "print(json.dumps({}))", env={"RISK_BACKENDS": backends})
            key = stack.api_key
            user, password = stack.logins.get("supervisor") or stack.logins["login"]
            ws = common.WebSocket(stack.port, session=common.login(stack.port, user, password))
            if ws.wait_for(lambda f: f.get("type") == "queue.snapshot", 15) is None:
                raise RuntimeError("no queue.snapshot on the console socket")
            common.load(stack.port, key, 2, 8, run_id="warm")
            for round_ in range(1 if quick else repeat):
                background = common.BackgroundLoad(stack.port, key, BACKGROUND_RATE, count * gap + 6,
                                                   run_id=f"s2bg{round_}").start()
                time.sleep(1.5)
                screen, hook, posts, after = [], [], [], []
                for i in range(count):
                    conv, msg = f"s2-{round_}-{i}", f"s2m-{round_}-{i}"
                    start = len(ws.frames)
                    sent = time.perf_counter()
                    status, body, _ = common.api_request(
                        stack.port, key, "POST", f"/api/v1/conversations/{conv}/messages",
                        common.message_body(msg, conv, TEXT.format(f"{round_}-{i}"), user=f"us2-{round_}-{i}"))
                    answered = time.perf_counter()
                    posts.append(answered - sent)
                    if status != 201 or body["assessment"]["level"] != "none":
                        raise RuntimeError(f"the message was answered {status}: {body}")
                    got = ws.wait_for(lambda f: f.get("type") == "incident.opened"
                                      and f["incident"]["conversation"] == conv, 10, start=start)
                    if got is None:
                        raise RuntimeError(f"no incident.opened for {conv}: the second stage did not raise it")
                    if got[1]["incident"]["level"] != "explicit":
                        raise RuntimeError(f"{conv} opened at {got[1]['incident']['level']}")
                    screen.append(got[0] - sent)
                    after.append(got[0] - answered)
                    arrived = stand_in.wait_hook(msg, 10)
                    if arrived is None:
                        raise RuntimeError(f"no assessment.raised webhook for {msg}")
                    hook.append(arrived - sent)
                    time.sleep(gap)
                bg = background.join()
                rates.append(bg["rps"])
                to_screen50.append(common.pct(screen, 50) * 1000)
                to_screen99.append(common.pct(screen, 99) * 1000)
                to_hook50.append(common.pct(hook, 50) * 1000)
                to_hook99.append(common.pct(hook, 99) * 1000)
                common.log(f"round {round_ + 1}: POST -> incident.opened p50 {to_screen50[-1]:.0f} ms, p99 "
                           f"{to_screen99[-1]:.0f} ms; POST -> webhook p50 {to_hook50[-1]:.0f} ms, p99 "
                           f"{to_hook99[-1]:.0f} ms over {count} messages; background {bg['rps']:.0f} msg/s "
                           f"({bg['errors']} errors); stand-in asked {stand_in.chat_requests} times; the POST "
                           f"itself p50 {common.pct(posts, 50) * 1000:.0f} ms, p99 {common.pct(posts, 99) * 1000:.0f} ms; "
                           f"201 -> frame p50 {common.pct(after, 50) * 1000:.0f} ms, p99 {common.pct(after, 99) * 1000:.0f} ms")
            ws.close()
    finally:
        stand_in.stop()
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    met = "met" if median(to_screen99) < 1000 else "MISSED"
    return (f"second-stage: POST -> raised incident on the console p50 {common.spread(to_screen50, '{:.0f}')} ms, "
            f"p99 {common.spread(to_screen99, '{:.0f}')} ms; POST -> assessment.raised webhook p50 "
            f"{common.spread(to_hook50, '{:.0f}')} ms, p99 {common.spread(to_hook99, '{:.0f}')} ms; background "
            f"{common.spread(rates, '{:.0f}')} msg/s, all reviewed; target p99 < 1000 ms (to the console): {met}")
