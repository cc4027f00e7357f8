"""1. Ingestion: sustained POST /api/v1/conversations/{id}/messages (benign, 200 conversations,
keep-alive clients) through the stack `make run` starts, as a share of the smallest Django app
answering the same request under the same Daphne. Target: >= 0.5.

Both servers run side by side, idle in turn; the loads alternate baseline, stack, baseline, stack...
so that noise from other work on the machine falls on both."""
from . import common

CONNECTIONS = 32


def run(quick=False, repeat=3):
    seconds = 4 if quick else 15
    tool = "wrk" if common.have_wrk() else "python (wrk not installed: apt-get install wrk for steadier figures)"
    common.log(f"load tool: {tool}")
    ratios, subject, baseline = [], [], []
    with common.Baseline() as base, common.Stack() as stack:
        key = stack.api_key
        # Warm up both: the stack creates its 200 conversations and users, both import lazily.
        common.load(base.port, "x", 2, CONNECTIONS, run_id="warm")
        common.load(stack.port, key, 3, CONNECTIONS, run_id="warm")
        for round_ in range(repeat):
            b = common.load(base.port, "x", seconds, CONNECTIONS, run_id=f"b{round_}")
            s = common.load(stack.port, key, seconds, CONNECTIONS, run_id=f"s{round_}")
            common.log(f"round {round_ + 1}: baseline {b['rps']:.0f} req/s (p99 {b['p99'] * 1000:.0f} ms), "
                       f"stack {s['rps']:.0f} req/s (p99 {s['p99'] * 1000:.0f} ms, {s['errors']} errors)")
            ratios.append(s["rps"] / b["rps"])
            subject.append(s["rps"])
            baseline.append(b["rps"])
            if s["errors"]:
                common.log(f"WARNING: {s['errors']} requests failed on the stack")
    met = "met" if sorted(ratios)[len(ratios) // 2] >= 0.5 else "MISSED"
    return (f"ingest: {common.spread(ratios)} of baseline throughput ({common.spread(subject, '{:.0f}')} vs "
            f"{common.spread(baseline, '{:.0f}')} req/s, {CONNECTIONS} keep-alive conns, 200 conversations, "
            f"{'wrk' if common.have_wrk() else 'python load'}) target >= 0.5: {met}")
