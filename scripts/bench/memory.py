"""5. Memory: the RSS of Daphne and of the Celery worker (its main process and pool, summed) after
100,000 messages, against after 10,000. Target: within 20%.

Messages are benign, as in the ingestion benchmark, with one explicit message in 500 (a new
incident: frames to the console, a timer for the worker). RSS is read from /proc/<pid>/status;
the pids are the ones scripts/run_stack.py prints, the worker's pool found by its process group."""
import time

from . import common


def rss(stack):
    web = common.rss_kb(stack.pid_of("web"))
    worker = sum(common.rss_kb(pid) for pid in common.group_pids(stack.pid_of("worker")))
    return web / 1024, worker / 1024


def send(stack, count, state):
    """Post `count` more messages (in load slices), with an explicit one every 500."""
    target = state["sent"] + count
    while state["sent"] < target:
        result = common.load(stack.port, stack.api_key, 5, 32, run_id=f"mem{state['slice']}")
        state["slice"] += 1
        state["sent"] += result["requests"]
        for _ in range(max(1, result["requests"] // 500)):
            state["flags"] += 1
            conv = f"mem-flag-{state['flags']}"
            common.api_request(stack.port, stack.api_key, "POST", f"/api/v1/conversations/{conv}/messages",
                               common.message_body(f"x-{conv}", conv, common.EXPLICIT_TEXT, user=f"umf-{state['flags']}"))


def run(quick=False, repeat=3):
    first, second = (1_000, 10_000) if quick else (10_000, 100_000)
    state = {"sent": 0, "slice": 0, "flags": 0}
    with common.Stack() as stack:
        started = time.monotonic()
        send(stack, first, state)
        at_first = rss(stack)
        common.log(f"after {state['sent']} messages: daphne {at_first[0]:.0f} MB, worker {at_first[1]:.0f} MB")
        send(stack, second - state["sent"], state)
        at_second = rss(stack)
        common.log(f"after {state['sent']} messages ({time.monotonic() - started:.0f} s): daphne {at_second[0]:.0f} MB, "
                   f"worker {at_second[1]:.0f} MB")
    growth = [(b - a) / a * 100 for a, b in zip(at_first, at_second)]
    met = "met" if max(growth) <= 20 else "MISSED"
    return (f"memory: daphne {at_first[0]:.0f} -> {at_second[0]:.0f} MB ({growth[0]:+.0f}%), worker {at_first[1]:.0f} -> "
            f"{at_second[1]:.0f} MB ({growth[1]:+.0f}%) from {first:,} to {state['sent']:,} messages; "
            f"target within 20%: {met}")
