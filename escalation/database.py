"""Writes that must not be refused because another writer is busy (SQLite, the embedded default).

SQLite has one writer. A writer that waits for the lock waits quietly (the 20 s busy timeout),
but one case fails at once, busy timeout or not: a connection that still holds an old read
snapshot (a statement left half-read) cannot become the writer once another connection has
committed; SQLite answers SQLITE_BUSY_SNAPSHOT and Django raises "database is locked". A probe
saw crisis messages answered 503 within 10 ms that way (issue 12, item 4); we have fixed the one
half-read path we found (contacts.registration) but could not reproduce the probe's, so the
requests that carry a crisis or a registration do not rely on every read path being perfect:

`retry_when_locked(work)` runs `work` (a whole transaction) again when SQLite says "locked",
after closing the connection, which drops whatever snapshot it held. The transaction rolled back,
so nothing was stored or acknowledged and running it again is safe (the API's writes are
idempotent by id anyway). Bounded: at most RETRY_SECONDS in all, then the 503 stands and the
product retries. What it costs: nothing on the normal path; on PostgreSQL it is not used (rows are
locked, not the file).
"""
import logging
import time

from django.db import OperationalError, connection

log = logging.getLogger(__name__)
RETRY_SECONDS = 5.0


def retry_when_locked(work):
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return work()  # PostgreSQL waits for row locks; inside a caller's transaction only it may retry
    deadline = time.monotonic() + RETRY_SECONDS
    delay = 0.005
    while True:
        try:
            return work()
        except OperationalError as error:
            if "locked" not in str(error) or time.monotonic() + delay > deadline:
                raise
            log.warning("database is locked (%s); the write runs again on a fresh connection", error)
            connection.close()  # a new connection has no old snapshot
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
