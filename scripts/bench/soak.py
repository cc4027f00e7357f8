"""Soak (issue: reliability): `python -m scripts.bench soak [--minutes N]` — N minutes (default 30) at
100 benign messages/s, 20 operator sockets, and every 10 s an explicit message whose incident one
operator claims. Loopback only. Prints errors (non-2xx answers), lost events (an incident.opened
or a claim's incident.updated that some socket never got) and the RSS growth of Daphne and the
worker. Not part of `make bench`'s default run: it takes half an hour.
"""
import os
import time

from . import common

SOCKETS, RATE, FLAG_EVERY, WARM_UP_SECONDS = 20, 100, 10.0, 60


def run(quick=False, repeat=1, minutes=None):
    minutes = minutes or float(os.environ.get("SOAK_MINUTES", "1" if quick else "30"))
    seconds = minutes * 60
    with common.Stack() as stack:
        key = stack.api_key
        user, password = stack.logins.get("supervisor") or stack.logins["login"]
        session = common.login(stack.port, user, password)
        sockets = [common.WebSocket(stack.port, session=session) for _ in range(SOCKETS)]
        for ws in sockets:
            if ws.wait_for(lambda f: f.get("type") == "queue.snapshot", 15) is None:
                raise RuntimeError("a console socket got no queue.snapshot")
        common.load(stack.port, key, 2, 8, run_id="soak-warm")
        rss_cold = {name: common.rss_kb(stack.pid_of(name)) for name in ("web", "worker")}
        background = common.BackgroundLoad(stack.port, key, RATE, seconds, run_id="soak").start()
        errors, lost, flags, started = 0, 0, 0, time.monotonic()
        rss_start = None  # taken after a minute: the first minute is warm-up (pools, caches, imports)
        while time.monotonic() - started < seconds - FLAG_EVERY:
            if rss_start is None and time.monotonic() - started >= WARM_UP_SECONDS:
                rss_start = {name: common.rss_kb(stack.pid_of(name)) for name in ("web", "worker")}
            conv = f"soak-{flags}"
            marks = [len(ws.frames) for ws in sockets]
            status, body, _ = common.api_request(stack.port, key, "POST", f"/api/v1/conversations/{conv}/messages",
                                                 common.message_body(f"s-{flags}", conv, common.EXPLICIT_TEXT,
                                                                     user=f"us-{flags}"))
            if status != 201:
                errors += 1
                continue
            incident = next(d["incident"] for d in body["directives"] if d["type"] == "hold_for_operator")
            claimer = sockets[flags % SOCKETS]
            claimer.send_json({"type": "incident.claim", "incident": incident})
            for ws, mark in zip(sockets, marks):
                opened = ws.wait_for(lambda f: f.get("type") == "incident.opened"
                                     and f["incident"]["id"] == incident, 10, start=mark)
                claimed = ws.wait_for(lambda f: f.get("type") == "incident.updated"
                                      and f["incident"]["id"] == incident and f["incident"]["status"] == "claimed",
                                      10, start=mark)
                lost += (opened is None) + (claimed is None)
            flags += 1
            time.sleep(max(0.0, started + flags * FLAG_EVERY - time.monotonic()))
        bg = background.join()
        errors += bg.get("errors", 0)
        rss_end = {name: common.rss_kb(stack.pid_of(name)) for name in ("web", "worker")}
        for ws in sockets:
            ws.close()
    rss_start = rss_start or rss_cold
    growth = ", ".join(f"{name} {rss_cold[name] / 1024:.0f} (cold)→{rss_start[name] / 1024:.0f} (1 min)→"
                       f"{rss_end[name] / 1024:.0f} MB ({(rss_end[name] / rss_start[name] - 1) * 100:+.0f}% after "
                       f"warm-up)" for name in rss_start)
    return (f"soak: {minutes:g} min at {bg['rps']:.0f} msg/s with {SOCKETS} sockets: {errors} errors, "
            f"{lost} lost events of {flags * SOCKETS * 2}, {flags} incidents claimed; RSS {growth} "
            f"(targets: 0 errors, 0 lost, flat memory)")
