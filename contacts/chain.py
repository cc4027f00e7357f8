"""The emergency-contact chain of an incident, as explicit steps (docs/api-v1.md, "Emergency-contact chain").

    step 0..n-1   SMS to each contact in priority order, the next when one fails or is not delivered in time
    step n        a voice call to the first contact, when voice is configured
    then          the chain ends once ("chain_exhausted", or "chain_no_contact" when the user has no
                  contact on record) and the supervisors on shift are paged by SMS (all supervisors
                  and admins when none is on shift: escalation.oncall); the timeline names them

A delivered SMS (or an answered call) ends the chain. Each step is a Notification row written in
the transaction that decided it; `send` does one attempt; `sweep` (Celery beat) re-queues what is
due, times out what was never delivered and starts chains nobody started in time.
"""
import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from escalation import audit, live, outbox
from escalation.models import Incident
from escalation.services import record_event

from . import sms_text
from .models import Notification
from .providers import ProviderError, get_provider
from .services import contacts_in_priority, mask_phone

log = logging.getLogger(__name__)
PAGE_STEP_BASE = 1000  # supervisor pages come after every contact step
ESCALATION_PAGE_STEP_BASE = 2000  # pages of an escalated incident (escalation.oncall): not part of the chain
SWEEP_BATCH = 200
# Queued this long ago and still not picked up: the broker lost it (a Redis restart), queue again.
REQUEUE_AFTER = timedelta(seconds=60)


class ChainError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


# --- starting and advancing -------------------------------------------------------------------

def start(incident, *, actor=None, reason="operator") -> bool:
    """Start the incident's chain once; False when it had already started. Call inside a transaction
    that holds the incident's row (select_for_update; SQLite's IMMEDIATE transaction is the lock).

    `notify_started` is the mark: a chain with nobody to text writes no contact step, so the steps
    alone cannot say it ran (and the sweep restarted it every 5 s)."""
    if incident.events.filter(kind="notify_started").exists() or Notification.objects.filter(
            incident=incident, step__lt=ESCALATION_PAGE_STEP_BASE).exists():
        return False
    record_event(incident, "notify_started", actor=actor, actor_label="" if actor else "console", reason=reason)
    _plan_step(incident, 0)
    return True


def _plan(incident):
    """The chain's contact steps: (kind, contact) in order."""
    contacts = contacts_in_priority(incident.conversation.end_user)
    steps = [("sms", contact) for contact in contacts]
    if contacts and get_provider().can_call:
        steps.append(("voice", contacts[0]))
    return steps


def _plan_step(incident, step):
    plan = _plan(incident)
    if step < len(plan):
        kind, contact = plan[step]
        end_user = incident.conversation.end_user
        _create(incident=incident, contact=contact, kind=kind, step=step, to_phone=contact.phone,
                body=sms_text.render("voice" if kind == "voice" else "sms", end_user))
    else:
        # The chain ends here, once: no contact on record, or none was reached.
        record_event(incident, "chain_no_contact" if not plan else "chain_exhausted", actor_label="console")
        _page_supervisors(incident)


def _page_supervisors(incident):
    """Page the supervisors on shift (all supervisors and admins when none is: escalation.oncall),
    and say in the timeline exactly who was paged, or that nobody could be."""
    from escalation import oncall  # oncall imports this module

    profiles, everyone = oncall.supervisors_to_page()
    if not profiles:
        record_event(incident, "nobody_to_page", actor_label="console")
        log.warning("incident %s: the chain ended and no supervisor or admin has a phone to page", incident.pk)
        return
    record_event(incident, "supervisors_paged", actor_label="console",
                 paged=", ".join(p.user.get_username() for p in profiles), on_shift=not everyone)
    page_staff(incident, profiles, step_base=PAGE_STEP_BASE)


def page_staff(incident, profiles, *, step_base=ESCALATION_PAGE_STEP_BASE) -> list:
    """Page staff (StaffProfiles with a phone) by SMS about `incident`, one step each from `step_base`."""
    body = sms_text.render("page", incident.conversation.end_user, incident=str(incident.pk)[:8])
    created = [_create(incident=incident, staff=p.user, kind="page", step=step_base + offset, to_phone=p.phone,
                       body=body) for offset, p in enumerate(profiles)]
    return [n for n in created if n is not None]


def _create(**fields):
    """Write a step; a twin worker that wrote it first wins (one row per step), nothing is sent twice."""
    try:
        with transaction.atomic():
            notification = Notification.objects.create(queued_at=timezone.now(), **fields)
    except IntegrityError:
        return None
    _changed(notification)
    transaction.on_commit(lambda: queue_send([notification.pk]), robust=True)
    return notification


def queue_send(ids):
    """Hand steps to the workers; those the broker did not take are left for the next sweep."""
    from . import tasks  # tasks imports this module

    Notification.objects.filter(pk__in=ids, status="pending").update(queued_at=timezone.now())  # before: a worker
    sent = outbox.queue(tasks.send_notification, ids)  # may claim (and clear it) at once
    Notification.objects.filter(pk__in=set(ids) - set(sent)).update(queued_at=None)
    return sent


def advance(notification):
    """The step ended without reaching anyone: plan the next one (once, whoever calls)."""
    if notification.incident_id is None or notification.kind == "page":
        return
    incident = Incident.objects.select_related("conversation__end_user__product").get(pk=notification.incident_id)
    if incident.notifications.filter(status="delivered").exists():
        return
    _plan_step(incident, notification.step + 1)


# --- one attempt -------------------------------------------------------------------------------

def send(notification_id):
    """One attempt at a step: claim it (a lease), record the attempt, then call the provider."""
    now = timezone.now()
    claimed = Notification.objects.filter(pk=notification_id, status="pending", next_attempt_at__lte=now).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    ).update(status="sending", locked_until=now + timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS),
             attempts=F("attempts") + 1, queued_at=None)
    if not claimed:
        return  # sent already, not due yet, or another worker holds it
    notification = Notification.objects.get(pk=notification_id)
    provider = get_provider()
    callback = f"{settings.PUBLIC_BASE_URL}/twilio/status/"
    try:
        if notification.kind == "voice":
            sent = provider.call(notification.to_phone, notification.body, status_callback=callback)
        else:
            sent = provider.send_sms(notification.to_phone, notification.body, status_callback=callback)
    except ProviderError as error:
        _failed_attempt(notification, error)
        return
    with transaction.atomic():
        delivered = sent.status in ("delivered", "completed")
        notification.status = "delivered" if delivered else "sent"
        notification.provider, notification.provider_sid, notification.provider_status = \
            provider.name, sent.sid, sent.status
        notification.sent_at = timezone.now()
        notification.deliver_by = notification.sent_at + timedelta(seconds=settings.SMS_DELIVERY_TIMEOUT_SECONDS)
        notification.finished_at = notification.sent_at if delivered else None
        notification.locked_until = None
        # Only the fields this attempt owns: the contact may have been replaced meanwhile, and a
        # full save would write its stale id back.
        notification.save(update_fields=["status", "provider", "provider_sid", "provider_status", "sent_at",
                                         "deliver_by", "finished_at", "locked_until"])
        _changed(notification)


def _failed_attempt(notification, error):
    with transaction.atomic():
        notification.error_code, notification.locked_until = error.code, None
        if error.retryable and notification.attempts < settings.SMS_SEND_MAX_ATTEMPTS:
            # 10 s, 20 s, 40 s... a crisis cannot wait long, so the cap is low.
            delay = min(10 * 2 ** (notification.attempts - 1), 120)
            notification.status, notification.next_attempt_at = "pending", timezone.now() + timedelta(seconds=delay)
            notification.queued_at = None  # the sweep queues it when it is due
            notification.save(update_fields=["error_code", "locked_until", "status", "next_attempt_at", "queued_at"])
            _changed(notification, retry_in=delay)
            return
        notification.status, notification.finished_at = "failed", timezone.now()
        notification.save(update_fields=["error_code", "locked_until", "status", "finished_at"])
        _changed(notification)
        advance(notification)


# --- delivery reports --------------------------------------------------------------------------

DELIVERED = {"delivered", "completed", "read"}
FAILED = {"failed", "undelivered", "busy", "no-answer", "canceled"}


def delivery_report(sid, provider_status, error_code=""):
    """Apply a provider's status callback. Duplicates and late, out-of-order reports change nothing."""
    provider_status = (provider_status or "").lower()
    final = "delivered" if provider_status in DELIVERED else "failed" if provider_status in FAILED else None
    with transaction.atomic():
        notification = Notification.objects.filter(provider_sid=sid).first()
        if notification is None:
            return False
        if final is None:  # queued / sent / ringing: progress only, and never after a final state
            Notification.objects.filter(pk=notification.pk, status="sent").update(provider_status=provider_status)
            return True
        # Only the first final report moves the chain, however many arrive at once.
        if not Notification.objects.filter(pk=notification.pk, status__in=("sending", "sent", "timed_out")).update(
            status=final, provider_status=provider_status, error_code=error_code or "", finished_at=timezone.now()
        ):
            return True
        previous = notification.status
        notification.refresh_from_db()
        _changed(notification)
        if final == "failed" and previous != "timed_out":  # a timed-out step has already moved the chain on
            advance(notification)
    return True


# --- the periodic check ------------------------------------------------------------------------

def sweep(now=None) -> dict:
    """Everything the chain owes, whatever was lost on the way: run every few seconds."""
    now = now or timezone.now()
    counts = {"queued": 0, "timed_out": 0, "auto_started": 0}
    # A worker died holding a step: whether the provider got it is unknown, so it is tried again
    # (a duplicate SMS is better than none to a family that must be reached).
    Notification.objects.filter(status="sending", locked_until__lt=now).update(status="pending")
    due = Notification.objects.filter(status="pending", next_attempt_at__lte=now).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    ).filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - REQUEUE_AFTER))  # not waiting in the queue
    counts["queued"] = len(queue_send(list(due.values_list("pk", flat=True)[:SWEEP_BATCH])))
    for notification in Notification.objects.filter(status="sent", deliver_by__lt=now)[:SWEEP_BATCH]:
        with transaction.atomic():
            if Notification.objects.filter(pk=notification.pk, status="sent").update(status="timed_out",
                                                                                      finished_at=now):
                notification.status = "timed_out"
                _changed(notification)
                advance(notification)
                counts["timed_out"] += 1
    overdue = Incident.objects.filter(
        level="explicit", status="open",
        opened_at__lte=now - timedelta(seconds=settings.ESCALATION_AUTO_NOTIFY_SECONDS),
    ).exclude(events__kind="notify_started").exclude(notifications__step__lt=ESCALATION_PAGE_STEP_BASE)
    for pk in list(overdue.values_list("pk", flat=True)[:SWEEP_BATCH]):
        with transaction.atomic():
            # Locked, then checked again: a twin sweep or an operator may have started it meanwhile.
            incident = Incident.objects.select_for_update(of=("self",)).select_related(
                "conversation__end_user__product").filter(pk=pk, status="open").first()
            if incident is not None and start(incident, reason="auto: unclaimed"):
                counts["auto_started"] += 1
    return counts


# --- the console -------------------------------------------------------------------------------

def notification_item(notification, full_phone=False) -> dict:
    contact = notification.contact
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "step": notification.step,
        "to": (contact.name if contact else notification.staff.get_username() if notification.staff else ""),
        "phone": notification.to_phone if full_phone else mask_phone(notification.to_phone),
        "status": notification.status,
        "error_code": notification.error_code or None,
        "attempts": notification.attempts,
        "at": (notification.finished_at or notification.sent_at or notification.created_at).isoformat(),
    }


def _changed(notification, **extra):
    """Timeline event and console frame for a step's new state (both follow the transaction)."""
    audit.notification(notification)  # every attempt's state, verification texts included
    if notification.incident_id is None:
        return
    incident = Incident.objects.get(pk=notification.incident_id)
    record_event(incident, f"notification_{notification.status}", actor_label="console", channel=notification.kind,
                 step=notification.step, to=mask_phone(notification.to_phone),
                 error_code=notification.error_code or None, **extra)
    live.publish(incident, {"type": "notification.updated", "incident": str(incident.pk),
                            "notification": notification_item(notification)})

