"""Handing outbox rows to Celery: one try, fail fast, the periodic sweep does the rest.

The rows (webhook events, notifications) are the truth; the broker only makes them fast. When
Redis is down this fails at once, instead of kombu's seconds of reconnecting inside a request.
"""
import logging

logger = logging.getLogger(__name__)


def queue(task, ids) -> list:
    """Send `task(id)` for each id; returns the ids that reached the broker."""
    sent = []
    try:
        with task.app.pool.acquire(block=True) as connection:
            connection.ensure_connection(max_retries=0)
            for pk in ids:
                task.apply_async((pk,), connection=connection, retry=False)
                sent.append(pk)
    except Exception as exc:  # noqa: BLE001  (whatever the broker raises; the rows are safe)
        # Ids and the exception class only: no personal data in logs.
        logger.warning("%s: broker unreachable (%s); queued %d of %d, the sweep will queue the rest",
                       task.name, type(exc).__name__, len(sent), len(ids))
    return sent
