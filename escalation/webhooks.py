"""Outbound webhooks to the products: a database outbox, signed POSTs, retries for 24 hours.

    enqueue(product, "incident.resolved", {...})   # inside the transaction that caused the event
    deliver(event_id)                              # one attempt (the Celery task calls it)
    sweep()                                        # re-queue what is due (Celery beat, every 15 s)
    sign(secret, t, body) / verify(secret, header, body)

The row is the truth, the broker only makes delivery fast: an on_commit dispatch lost to a Redis
outage, a worker killed mid-task or a retry that is due are all picked up by the sweep. Delivery is
at least once; receivers dedupe by the event id. See docs/webhooks.md.
"""
import hashlib
import hmac
import json
import logging
import random
import time
from datetime import timedelta
from functools import partial

import requests
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from . import outbox
from .params import whole_number
from .models import WebhookAttempt, WebhookEvent

logger = logging.getLogger(__name__)

EVENT_TYPES = {
    "assessment.raised",
    "conversation.human_takeover",
    "conversation.operator_message",
    "conversation.returned_to_ai",
    "incident.resolved",
    "user.registration_restricted",
}
TIMEOUT = (5, 10)  # connect, read (seconds)
# Longer than a normal attempt (connect + read timeouts), so a claim outlives the POST it guards.
LEASE = timedelta(seconds=60)
GIVE_UP_AFTER = timedelta(hours=24)
FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 3600
# A queued event still pending this long after the sweep queued it: its message was lost, queue again.
REQUEUE_AFTER = timedelta(minutes=5)
SWEEP_BATCH = 500
EXCERPT_CHARS = 500
USER_AGENT = "escalation-console-webhooks/1"


# --- signatures -------------------------------------------------------------------------------

def _as_bytes(value):
    return value.encode() if isinstance(value, str) else value


def sign(secret, timestamp, body: bytes) -> str:
    """The X-Signature header value: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>."""
    t = int(timestamp)
    digest = hmac.new(_as_bytes(secret), f"{t}.".encode() + _as_bytes(body), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(secret, header, body: bytes, tolerance=300, now=None) -> bool:
    """True when `header` signs `body` with `secret` and its timestamp is within `tolerance` seconds."""
    t, candidates = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            t = whole_number(value)  # None (no signature) unless plain digits
        elif key == "v1":
            candidates.append(value)  # several v1 values are allowed (e.g. while a secret rotates)
    if t is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False  # an old signature replayed
    expected = sign(secret, t, body).partition(",v1=")[2]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


# --- the outbox -------------------------------------------------------------------------------

def enqueue(product, event_type: str, data: dict):
    """Write the event for `product` in the caller's transaction and send it to Celery on commit.

    Returns the WebhookEvent, or None when the product has no webhook URL (it polls instead).
    A rolled-back transaction leaves neither the row nor a task.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if not product.webhook_url:
        return None
    now = timezone.now()
    # queued_at: the commit hook sends it; the sweep leaves it alone unless that send fails.
    event = WebhookEvent(product=product, type=event_type, created_at=now, next_attempt_at=now, queued_at=now)
    # Serialized once: every retry sends these very bytes (same id), so receivers can dedupe.
    event.body = json.dumps(
        {"id": event.id, "type": event_type, "created": now, "data": data},
        cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"),
    )
    event.save(force_insert=True)
    # robust: the caller's transaction has committed by then; a failure here must not fail the caller.
    transaction.on_commit(partial(_dispatch, event.id), robust=True)
    return event


def _dispatch(event_id):
    if not _queue([event_id]):
        WebhookEvent.objects.filter(pk=event_id).update(queued_at=None)  # the next sweep sends it


def _queue(event_ids):
    from .tasks import deliver_webhook  # tasks imports this module

    return outbox.queue(deliver_webhook, event_ids)


def sweep() -> int:
    """Queue every due pending event not claimed by a worker (at most SWEEP_BATCH); returns the count."""
    now = timezone.now()
    due = list(
        WebhookEvent.objects.filter(status="pending", next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        # Not in the queue (a claim clears queued_at), or queued so long ago that the message was lost.
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - REQUEUE_AFTER))
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    queued = _queue(due) if due else []
    if queued:
        WebhookEvent.objects.filter(pk__in=queued).update(queued_at=now)
    return len(queued)


# --- one attempt ------------------------------------------------------------------------------

def backoff(attempts: int) -> timedelta:
    """Wait after the n-th failed attempt: 10 s doubling, capped at 1 h, with jitter (half to full)."""
    delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=delay * random.uniform(0.5, 1.0))


def _claim(event_id, now):
    """Lease the event if it is pending, due and unclaimed; returns the lease's expiry or None.

    A conditional UPDATE rather than select_for_update: it is atomic on SQLite and PostgreSQL
    alike, and the lease also covers the POST, which runs outside any transaction. Clearing
    queued_at tells the sweep the message was consumed: whatever happens next, once the event is
    due again (or the lease of a crashed attempt runs out) the sweep queues it.
    """
    lease = now + LEASE
    claimed = (
        WebhookEvent.objects.filter(pk=event_id, status="pending", next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=lease, attempts=F("attempts") + 1, queued_at=None)
    )
    return lease if claimed == 1 else None


def _post(event):
    """POST the event once; returns (status_code, error class, excerpt of the answer, ms)."""
    body = event.body.encode()
    started = time.monotonic()
    status_code, error, excerpt = None, "", ""
    try:
        if not event.product.webhook_url:
            raise ValueError("no webhook URL")  # removed since the event was queued
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Signature": sign(event.product.webhook_secret, time.time(), body),
        }
        # No redirects: the signed POST goes to the configured URL only.
        with requests.post(
            event.product.webhook_url, data=body, headers=headers, timeout=TIMEOUT, stream=True, allow_redirects=False
        ) as response:
            status_code = response.status_code
            # Read a little of the answer, never the whole of it: it is kept for the admin only.
            raw = response.raw.read(EXCERPT_CHARS * 4, decode_content=True) or b""
            excerpt = raw.decode("utf-8", "replace").replace("\x00", "")[:EXCERPT_CHARS]
    except Exception as exc:  # noqa: BLE001  (any failure to post is a failed attempt)
        error = type(exc).__name__
    return status_code, error, excerpt, int((time.monotonic() - started) * 1000)


def deliver(event_id) -> str | None:
    """Make one attempt at `event_id` if it is due and nobody else is on it.

    Returns the event's status afterwards, or None when there was nothing to do.
    """
    now = timezone.now()
    lease = _claim(event_id, now)
    if lease is None:
        return None
    event = WebhookEvent.objects.select_related("product").get(pk=event_id)
    status_code, error, excerpt, duration_ms = _post(event)
    at = timezone.now()
    WebhookAttempt.objects.create(
        event=event, at=at, status_code=status_code, error=error, duration_ms=duration_ms, response_excerpt=excerpt
    )
    if status_code is not None and 200 <= status_code < 300:
        update = {"status": "delivered", "delivered_at": at, "locked_until": None}
    elif at >= event.created_at + GIVE_UP_AFTER:
        update = {"status": "failed", "locked_until": None}
    else:
        # The last retry falls on the 24-hour mark at the latest.
        retry_at = min(at + backoff(event.attempts), event.created_at + GIVE_UP_AFTER)
        update = {"next_attempt_at": retry_at, "locked_until": None}
    # Only while our lease holds: if it ran out and another worker took over, its result stands.
    WebhookEvent.objects.filter(pk=event_id, locked_until=lease).update(**update)
    logger.info(
        "webhook %s (%s) attempt %d: %s in %d ms",
        event_id, event.type, event.attempts, status_code or error, duration_ms,
    )
    return update.get("status", "pending")
