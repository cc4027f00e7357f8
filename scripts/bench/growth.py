"""4. Growth: the ingestion p99 and the console's queue query with 1,000 / 100,000 / 1,000,000
stored messages and 10,000 open incidents: flat, not growing with the data.

Rows are seeded straight into a fresh SQLite database (bulk_create, executemany in big
transactions), then the stack starts on it as `make run` does. The ingestion p99 is taken at a
paced 30 messages/s (service time, not queueing at saturation); the queue query is
escalation.live.snapshot() for a supervisor, timed in a separate process, with its query count."""

from . import common

INCIDENTS = 10_000
SEED = r"""
import sqlite3
from datetime import timedelta
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from contacts.models import EndUser
from conversations.models import Conversation, Message, Product
from escalation.models import Incident
call_command("migrate", verbosity=0)
MESSAGES, INCIDENTS = {messages}, {incidents}
product, _ = Product.objects.get_or_create(name="seeded")
now = timezone.now()
with transaction.atomic():
    users = EndUser.objects.bulk_create([EndUser(product=product, external_id=f"su-{{i}}") for i in range(INCIDENTS)],
                                        batch_size=2000)
    convs = Conversation.objects.bulk_create([Conversation(product=product, external_id=f"s-{{i}}", end_user=u)
                                              for i, u in enumerate(users)], batch_size=2000)
    # Recent, and the explicit ones claimed: nothing is overdue, so the beat's sweeps (auto-notify,
    # escalation) stay idle and do not compete with what is measured.
    from django.contrib.auth.models import User
    holder, _ = User.objects.get_or_create(username="seeded-operator", defaults={{"is_staff": True}})
    Incident.objects.bulk_create([Incident(product=product, conversation=c, level=("explicit", "high_risk")[i % 2],
                                           level_rank=3 - i % 2, category="suicide",
                                           status=("claimed", "open")[i % 2], claimed_by=holder if i % 2 == 0 else None,
                                           claimed_at=now if i % 2 == 0 else None,
                                           opened_at=now - timedelta(milliseconds=i)) for i, c in enumerate(convs)],
                                 batch_size=2000)
ids = [c.pk for c in convs]
table = Message._meta.db_table
sql = (f"INSERT INTO {{table}} (conversation_id, external_id, role, text, sent_at, received_at, level, category, "
       "assessment_source, assessment) VALUES (?, ?, 'user', ?, ?, ?, 'none', '', 'console', ?)")
stamp = now.isoformat(sep=" ").replace("+00:00", "")
assessment = '{{"console": {{"level": "none", "category": null, "signals": []}}, "product": null}}'
cursor = connection.cursor()
done, chunk = 0, 50_000
while done < MESSAGES:
    n = min(chunk, MESSAGES - done)
    with transaction.atomic():
        cursor.executemany(sql, [(ids[(done + k) % len(ids)], f"sm-{{done + k}}", "seeded message text", stamp, stamp,
                                  assessment) for k in range(n)])
    done += n
print(json.dumps({{"messages": Message.objects.count(), "incidents": Incident.objects.exclude(status="resolved").count()}}))
"""
SNAPSHOT = r"""
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from escalation import live
user = User.objects.get(username={username!r})
live.snapshot(user)  # warm
times = []
for _ in range(5):
    t = time.perf_counter()
    with CaptureQueriesContext(connection) as q:
        frame = live.snapshot(user)
    times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({{"ms": times[len(times) // 2] * 1000, "queries": len(q), "items": len(frame["incidents"]),
                   "total": frame["total"]}}))
"""


def measure(size, quick):
    import tempfile
    import shutil
    from pathlib import Path

    var_dir = Path(tempfile.mkdtemp(prefix=f"bench-growth-{size}-"))
    try:
        seeded = common.django_script(var_dir, SEED.format(messages=size, incidents=INCIDENTS))
        common.log(f"seeded {seeded['messages']} messages, {seeded['incidents']} open incidents")
        with common.Stack(var_dir=var_dir) as stack:
            common.load(stack.port, stack.api_key, 2, 8, run_id="warm")
            ingest = common.run_python_load(stack.port, stack.api_key, 5 if quick else 12, connections=8,
                                            rate=30, run_id=f"g{size}")
            user = (stack.logins.get("supervisor") or stack.logins["login"])[0]
            snap = common.django_script(var_dir, SNAPSHOT.format(username=user))
        common.log(f"{size} messages: ingestion p50 {ingest['p50'] * 1000:.0f} ms, p99 {ingest['p99'] * 1000:.0f} ms "
                   f"at {ingest['rps']:.0f}/s; snapshot {snap['ms']:.1f} ms, {snap['queries']} queries, "
                   f"{snap['items']} of {snap['total']} incidents")
        return ingest["p99"] * 1000, snap
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


def run(quick=False, repeat=3):
    sizes = [1_000, 10_000, 100_000] if quick else [1_000, 100_000, 1_000_000]
    results = {size: measure(size, quick) for size in sizes}
    p99 = " / ".join(f"{results[s][0]:.0f}" for s in sizes)
    snap_ms = " / ".join(f"{results[s][1]['ms']:.0f}" for s in sizes)
    queries = " / ".join(str(results[s][1]["queries"]) for s in sizes)
    first, last = results[sizes[0]], results[sizes[-1]]
    flat = last[0] <= 2 * first[0] + 20 and last[1]["ms"] <= 2 * first[1]["ms"] + 20 \
        and last[1]["queries"] == first[1]["queries"]
    names = " / ".join(f"{s:,}" for s in sizes)
    return (f"growth: ingestion p99 {p99} ms, queue snapshot {snap_ms} ms in {queries} queries at {names} messages "
            f"with {INCIDENTS:,} open incidents (snapshot bounded to {last[1]['items']} of {last[1]['total']}); "
            f"p99 x{last[0] / first[0]:.2f}, snapshot x{last[1]['ms'] / first[1]['ms']:.2f} from smallest to largest: "
            f"{'flat' if flat else 'GROWS'}")
