"""3. Flag to phone: from an operator's `contacts.notify` (and from the auto-notify deadline) to the
SMS request reaching a local stand-in Twilio (tests/support/fake_twilio.py). Target: p99 < 1 s.

The stack runs as `make run` starts it, with TWILIO_* pointing at the stand-in and
ESCALATION_AUTO_NOTIFY_SECONDS small. Each incident's user has one contact with a phone of its
own, so a request is matched to its incident by number. Times are wall-clock (time.time()) on this
machine: the auto path's start is the incident's opened_at + ESCALATION_AUTO_NOTIFY_SECONDS."""
import random
import time
from datetime import datetime

from tests.support.fake_twilio import FakeTwilio

from . import common

AUTO_SECONDS = 3


class StampedTwilio(FakeTwilio):
    """The stand-in, noting when each request arrived (before it answers)."""

    def __init__(self):
        super().__init__()
        self.arrivals = []  # (time.time(), to)

    def _answer(self, handler, kind, params):
        self.arrivals.append((time.time(), params.get("To", "")))
        super()._answer(handler, kind, params)

    def first_after(self, to, since, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, number in list(self.arrivals):
                if number == to and at >= since:
                    return at
            time.sleep(0.005)
        return None


def _register(stack, key, user, phone):
    body = {"birth_date": "1985-05-01", "locale": "en", "region": "CN",
            "contacts": [{"name": "Pat", "relationship": "friend", "kind": "emergency", "phone": phone, "priority": 1}]}
    import json
    status, answer, _ = common.api_request(stack.port, key, "PUT", f"/api/v1/users/{user}", json.dumps(body))
    if status != 200:
        raise RuntimeError(f"PUT /users/{user}: {status} {answer}")


def _open(stack, key, conv, user):
    status, body, _ = common.api_request(stack.port, key, "POST", f"/api/v1/conversations/{conv}/messages",
                                         common.message_body(f"x-{conv}", conv, common.EXPLICIT_TEXT, user=user))
    if status != 201:
        raise RuntimeError(f"explicit message answered {status}: {body}")
    return next(d["incident"] for d in body["directives"] if d["type"] == "hold_for_operator")


def run(quick=False, repeat=3):
    operator_n = 5 if quick else 30
    auto_n = 4 if quick else 20
    with StampedTwilio() as twilio:
        env = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "bench-token",
               "TWILIO_FROM_NUMBER": "+15005550006", "TWILIO_API_URL": twilio.url,
               "ESCALATION_AUTO_NOTIFY_SECONDS": str(AUTO_SECONDS)}
        with common.Stack(extra_env=env) as stack:
            key = stack.api_key
            user, password = stack.logins.get("supervisor") or stack.logins["login"]
            ws = common.WebSocket(stack.port, session=common.login(stack.port, user, password))
            if ws.wait_for(lambda f: f.get("type") == "queue.snapshot", 15) is None:
                raise RuntimeError("no queue.snapshot on the console socket")
            phones = {}
            for i in range(operator_n + auto_n):
                phones[i] = f"+86138{i + 10000000:08d}"
                _register(stack, key, f"up-{i}", phones[i])
            time.sleep(1)  # verification texts, if any, are out of the way (matched by time anyway)

            # Operator path: open, then contacts.notify at once (before the auto deadline).
            operator = []
            for i in range(operator_n):
                incident = _open(stack, key, f"phone-{i}", f"up-{i}")
                sent = time.time()
                ws.send_json({"type": "contacts.notify", "incident": incident})
                arrived = twilio.first_after(phones[i], sent, timeout=20)
                if arrived is None:
                    raise RuntimeError(f"no SMS for incident {incident} (operator path)")
                operator.append(arrived - sent)
                time.sleep(0.2)

            # Auto path: open and leave unclaimed; the sweep starts the chain after AUTO_SECONDS.
            opened = {}
            for j in range(operator_n, operator_n + auto_n):
                start = len(ws.frames)
                incident = _open(stack, key, f"phone-{j}", f"up-{j}")
                got = ws.wait_for(lambda f: f.get("type") == "incident.opened" and f["incident"]["id"] == incident,
                                  10, start=start)
                opened[j] = datetime.fromisoformat(got[1]["incident"]["opened_at"]).timestamp()
                time.sleep(random.uniform(0.2, 1.2))  # spread over the beat's 5 s phase
            auto = []
            for j, at in opened.items():
                deadline = at + AUTO_SECONDS
                arrived = twilio.first_after(phones[j], deadline - 1, timeout=40)
                if arrived is None:
                    raise RuntimeError(f"no SMS for conversation phone-{j} (auto path)")
                auto.append(max(arrived - deadline, 0.0))
            ws.close()
    op99, op50 = common.pct(operator, 99), common.pct(operator, 50)
    au99, au50 = common.pct(auto, 99), common.pct(auto, 50)
    common.log(f"operator path: p50 {op50 * 1000:.0f} ms, p99 {op99 * 1000:.0f} ms ({operator_n}); "
               f"auto path: p50 {au50 * 1000:.0f} ms, p99 {au99 * 1000:.0f} ms ({auto_n})")
    met = lambda p: "met" if p < 1 else "MISSED"  # noqa: E731
    return (f"flag-to-phone: contacts.notify -> SMS at stand-in Twilio p50 {op50 * 1000:.0f} ms, p99 {op99 * 1000:.0f} ms "
            f"(n={operator_n}): {met(op99)}; auto-notify deadline -> SMS p50 {au50 * 1000:.0f} ms, "
            f"p99 {au99 * 1000:.0f} ms (n={auto_n}): {met(au99)}; target p99 < 1 s")
