"""Handing work to Celery: one try, fail fast, the periodic sweeps do the rest.

The rows (webhook events, notifications, incidents) are the truth; the broker only makes things
fast. When Redis is down this fails at once, instead of kombu's seconds of reconnecting inside a
request, and the caller's sweep picks the work up later.
"""
import logging

logger = logging.getLogger(__name__)


def _publish(task, calls) -> int:
    """Send `task.apply_async(args, **options)` for each (args, options); returns how many reached
    the broker (in order: the first failure stops the rest)."""
    sent = 0
    try:
        with task.app.pool.acquire(block=True) as connection:
            connection.ensure_connection(max_retries=0)
            for args, options in calls:
                task.apply_async(args, connection=connection, retry=False, **options)
                sent += 1
    except Exception as exc:  # noqa: BLE001  (whatever the broker raises; the rows are safe)
        # The task and the exception class only: no personal data in logs.
        logger.warning("%s: broker unreachable (%s); queued %d of %d, the sweep will queue the rest",
                       task.name, type(exc).__name__, sent, len(calls))
    return sent


def queue(task, ids) -> list:
    """Send `task(id)` for each id; returns the ids that reached the broker."""
    ids = list(ids)
    return ids[:_publish(task, [((pk,), {}) for pk in ids])]


def schedule(task, countdown) -> bool:
    """Run `task()` once, `countdown` seconds from now; False when the broker could not take it."""
    return _publish(task, [((), {"countdown": countdown})]) == 1
