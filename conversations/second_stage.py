"""The risk engine's second stage: HTTP classifiers (RISK_BACKENDS) asked by the worker, in batches.

    enqueue(message)   # in the transaction that stores a user message (services.store_message)
    run(review_id)     # the Celery task: claim a batch, ask every backend, raise what they raise
    sweep()            # Celery beat, every 5 s: reviews whose dispatch was lost, retries that are due

The row (`RiskReview`) is the truth, the broker only makes it fast: a dispatch lost to a Redis
outage, a worker killed mid-review or a retry that is due is picked up by the sweep. A second
opinion can only **raise** a message's level, never lower it. When it raises: the message records
it (its assessment's `second_stage`), the incident is opened or raised (source `second_stage`),
the console is told, and the product gets the webhook `assessment.raised`, all in one transaction.
A backend that fails (HTTP error, timeout, an answer we cannot read) is asked again with backoff,
at most MAX_ATTEMPTS times; then the review is `failed` and the synchronous level stands.

Without RISK_BACKENDS nothing here runs: no rows, no tasks. See docs/risk.md.
"""
import logging
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from escalation import audit, live, outbox, webhooks
from escalation import services as incidents
from escalation.database import retry_when_locked

from .models import Message, RiskReview
from .risk import backends, level_rank
from .risk.backends import Failure, Verdict

log = logging.getLogger(__name__)

SOURCE = "second_stage"
BATCH = 32  # reviews one worker claims at once (the backends see them together)
MAX_ATTEMPTS = 5  # then the review is failed and the synchronous level stands
FIRST_RETRY_SECONDS = 2
MAX_RETRY_SECONDS = 60
LEASE_MARGIN_SECONDS = 30
# A queued review still pending this long after it was queued: its message was lost, queue again.
REQUEUE_AFTER = timedelta(seconds=60)
SWEEP_BATCH = 500


# --- the outbox ------------------------------------------------------------------------------------

def wanted(message) -> bool:
    """A review is written for a user message when backends are configured, unless it is explicit
    already (the top level: no second opinion can raise it)."""
    return message.role == "user" and message.level != "explicit" and backends.enabled()


def enqueue(message):
    """Write the message's review in the caller's transaction and send it to a worker on commit.

    Returns the RiskReview, or None when no review is wanted (no backends: nothing at all)."""
    if not wanted(message):
        return None
    now = timezone.now()
    review = RiskReview.objects.create(message=message, created_at=now, next_attempt_at=now, queued_at=now)
    # robust: the caller's transaction has committed by then; a failure here must not fail the caller.
    transaction.on_commit(partial(_dispatch, review.pk), robust=True)
    return review


def _dispatch(review_id):
    if not _queue([review_id]):
        RiskReview.objects.filter(pk=review_id, status="pending").update(queued_at=None)  # the sweep sends it


def _queue(ids):
    from .tasks import review_risk  # tasks imports this module

    return outbox.queue(review_risk, ids)


def sweep() -> int:
    """Queue every due pending review no worker holds (at most SWEEP_BATCH); returns the count."""
    if not backends.enabled():
        return 0
    now = timezone.now()
    due = list(
        _due(now)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - REQUEUE_AFTER))  # not waiting in the queue
        .order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if not due:
        return 0
    RiskReview.objects.filter(pk__in=due).update(queued_at=now)  # before: a worker may claim (and clear it) at once
    queued = _queue(due)
    lost = set(due) - set(queued)
    if lost:
        RiskReview.objects.filter(pk__in=lost, status="pending").update(queued_at=None)
    return len(queued)


def _due(now):
    return RiskReview.objects.filter(status="pending", next_attempt_at__lte=now).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now))


# --- one batch -------------------------------------------------------------------------------------

def backoff(attempts: int) -> timedelta:
    """Wait after the n-th failed attempt: 2 s doubling, capped at 60 s, with jitter (half to full).
    The sweep runs every 5 s, so in practice a retry waits for the next sweep after that."""
    delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=delay * random.uniform(0.5, 1.0))


def lease_seconds(configured) -> float:
    # Longer than the slowest possible round of every backend, so a claim outlives the calls it guards.
    return sum(b.max_seconds(BATCH + 1) for b in configured) + LEASE_MARGIN_SECONDS


def claim(review_id, configured, now=None):
    """Lease `review_id` and up to BATCH other due reviews (queued or not) in one UPDATE.

    Returns (token, lease, reviews). A conditional UPDATE, atomic on SQLite and PostgreSQL alike
    (the outer conditions are checked again on a row another worker just took); the token says
    which rows are ours. Clearing queued_at tells the sweep the message was consumed."""
    now = now or timezone.now()
    token, lease = uuid.uuid4().hex, now + timedelta(seconds=lease_seconds(configured))
    others = _due(now).order_by("next_attempt_at").values("pk")[:BATCH]
    claimed = retry_when_locked(lambda: _due(now).filter(Q(pk=review_id) | Q(pk__in=others)).update(
        claim=token, locked_until=lease, attempts=F("attempts") + 1, queued_at=None))
    if not claimed:
        return token, lease, []
    reviews = list(RiskReview.objects.filter(claim=token, locked_until=lease)
                   .select_related("message").order_by("pk"))
    return token, lease, reviews


def ask(configured, reviews) -> dict:
    """{review pk: {backend name: Verdict or Failure}} for each backend that has not answered yet.
    Backends run side by side; none of this touches the database."""
    def one(backend):
        todo = [r for r in reviews if backend.name not in r.results]
        if not todo:
            return backend, []
        return backend, list(zip(todo, backend.classify([r.message.text for r in todo])))

    answers = {r.pk: {} for r in reviews}
    if len(configured) == 1:
        done = [one(configured[0])]
    else:
        with ThreadPoolExecutor(max_workers=len(configured), thread_name_prefix="risk-backends") as pool:
            done = list(pool.map(one, configured))
    for backend, pairs in done:
        for review, answer in pairs:
            answers[review.pk][backend.name] = answer
    return answers


def run(review_id) -> int:
    """Review `review_id` and whatever else is due with it; returns how many reviews were handled."""
    configured = backends.configured()
    if not configured:
        return 0
    if not _due(timezone.now()).filter(pk=review_id).exists():
        # Reviewed already (an earlier task's batch took it), not due yet, or held by another worker.
        # A read: on SQLite a claim that finds nothing would still wait for the one write lock.
        return 0
    token, lease, reviews = claim(review_id, configured)
    if not reviews:
        return 0
    answers = ask(configured, reviews)
    names = [b.name for b in configured]
    plans = [(review, *plan(review, answers[review.pk], names)) for review in reviews]
    # Raises first, each in its own transaction: they are what someone is waiting for.
    for review, update, top in plans:
        if top is not None and level_rank(top[1].level) > level_rank(review.message.level):
            _guarded(review, lambda: _record(review, update, top, token, lease))
    # The rest (nothing to raise) in one transaction: one turn of SQLite's write lock, not one each.
    rest = [(review, update) for review, update, top in plans
            if top is None or level_rank(top[1].level) <= level_rank(review.message.level)]
    if rest:
        def record_rest():
            with transaction.atomic():
                for review, update in rest:
                    RiskReview.objects.filter(pk=review.pk, claim=token, locked_until=lease).update(**update)
        _guarded(rest[0][0], record_rest)
    return len(reviews)


def _guarded(review, work):
    try:
        retry_when_locked(work)
    except Exception as error:  # noqa: BLE001  (one review's trouble must not cost the others theirs)
        # The lease runs out and the sweep queues it again. The class only: no text in logs.
        log.error("risk review %s: not recorded (%s); the sweep will retry", review.pk, type(error).__name__)


def plan(review, answers, names):
    """(the review's update, the highest (backend, Verdict) so far or None) after this attempt's answers."""
    results, errors = dict(review.results), dict(review.errors)
    for name, answer in answers.items():
        if isinstance(answer, Verdict):
            results[name] = {"level": answer.level, "category": answer.category, "ms": answer.ms}
            errors.pop(name, None)
        elif isinstance(answer, Failure):
            errors[name] = answer.error
    now = timezone.now()
    update = {"results": results, "errors": errors, "locked_until": None, "claim": ""}
    if all(name in results for name in names):
        update.update(status="done", finished_at=now)
    elif review.attempts >= MAX_ATTEMPTS:
        update.update(status="failed", finished_at=now)
        log.warning("risk review %s: gave up after %d attempts (%s); the synchronous level stands",
                    review.pk, review.attempts, ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())))
    else:
        update.update(next_attempt_at=now + backoff(review.attempts), queued_at=None)  # the sweep queues it
    return update, highest(results)


def finish(review, answers, names, token, lease):
    """Record one review's answers and, in the same transaction, raise the message if they say so."""
    update, top = plan(review, answers, names)
    return _record(review, update, top, token, lease)


def _record(review, update, top, token, lease):
    with transaction.atomic():
        # Only while our lease holds: if it ran out and another worker took over, its result stands.
        if not RiskReview.objects.filter(pk=review.pk, claim=token, locked_until=lease).update(**update):
            return None
        if top is None:
            return None
        raised = raise_message(review.message_id, top, update["results"])
        if raised:
            RiskReview.objects.filter(pk=review.pk).update(raised_to=raised)
        return raised


def highest(results):
    """(backend name, Verdict) of the highest level any backend gave (the first named on a tie), or None."""
    best = None
    for name, result in results.items():
        if best is None or level_rank(result["level"]) > level_rank(best[1].level):
            best = (name, Verdict(result["level"], result["category"]))
    return best if best and best[1].level != "none" else None


def raise_message(message_id, top, results):
    """Raise the message to the backend's level if that is higher, with its incident, console frame,
    webhook and audit entry. Must run in the caller's transaction. Returns the new level or None."""
    from . import directives, services  # services imports this module

    backend, verdict = top
    row = Message.objects.filter(pk=message_id).select_related("conversation__product").first()
    if row is None:
        return None  # erased meanwhile
    product = row.conversation.product
    # The conversation's lock, as the request path takes it: incidents are only opened under it.
    conversation = services.find_conversation(product, row.conversation.external_id, lock=True)
    message = Message.objects.get(pk=message_id)  # read again under the lock
    if level_rank(verdict.level) <= level_rank(message.level):
        return None  # never lower; the same level changes nothing
    previous = message.level
    message.level = verdict.level
    message.category = verdict.category or message.category or "other"
    message.assessment_source = "console"  # the console's own engine, its second stage
    message.assessment = {**message.assessment, SOURCE: {
        "level": verdict.level, "category": message.category, "backend": backend, "previous_level": previous,
        "results": results, "at": timezone.now().isoformat()}}
    message.save(update_fields=["level", "category", "assessment_source", "assessment"])

    if level_rank(message.level) >= level_rank("high_risk"):
        incident, _ = incidents.open_or_raise(conversation, level=message.level, category=message.category,
                                              source=SOURCE, message=message)
    else:
        incident = services.active_incident(conversation)
    if incident is not None:
        live.message_updated(incident, message)
    end_user = conversation.end_user
    actions = directives.for_assessment(message.level, end_user=end_user, mode=conversation.mode,
                                        incident=incident, text=message.text)
    services.record_referral(conversation, actions, message.level, message)
    webhooks.enqueue(product, "assessment.raised", {
        "conversation": conversation.external_id,
        "message": message.external_id,
        "user": end_user.external_id,
        "level": message.level,
        "previous_level": previous,
        "category": message.category or None,
        "source": SOURCE,
        "incident": str(incident.pk) if incident is not None else None,
        "directives": actions,
    })
    audit.record("assessment.raised", actor_label=f"{SOURCE}:{backend}", product=product, obj=message,
                 end_user=conversation.end_user_id, conversation=conversation.pk, level=message.level,
                 previous_level=previous, category=message.category or None, backend=backend)
    log.info("risk review of message %s: raised %s -> %s by %s", message.pk, previous, message.level, backend)
    return message.level
