"""Incidents: opening, raising and recording what happens to them.

Called by the product API (conversations) in the same transaction as the message or flag that
caused it, so an acknowledged flag always has its incident.
"""
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations.risk import level_rank

from . import live, outbox
from .models import Incident, IncidentEvent

ACTIVE = ("open", "claimed", "returned")
AUTO_NOTIFY_MARGIN_SECONDS = 0.2  # the timer fires just after the deadline, never just before it


def record_event(incident, kind, *, actor=None, actor_label="", **data):
    return IncidentEvent.objects.create(
        incident=incident,
        kind=kind,
        actor=actor,
        actor_label=actor_label or (actor.get_username() if actor else ""),
        data=data,
    )


def active_incident(conversation):
    return Incident.objects.filter(conversation=conversation).exclude(status="resolved").first()


def open_or_raise(conversation, *, level, category, reason="", source="console", message=None):
    """Open the conversation's incident, or raise the active one to `level` (never lower it).

    Returns (incident, created). Must run inside the caller's transaction.
    """
    now = timezone.now()
    incident = active_incident(conversation)
    created = incident is None
    if created:
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    product_id=conversation.product_id,
                    conversation=conversation,
                    level=level,
                    level_rank=level_rank(level),
                    category=category or "",
                    reason=reason,
                    opened_at=now,
                )
        except IntegrityError:
            # Another request opened it first (the partial unique index): raise that one instead.
            incident, created = active_incident(conversation), False
        else:
            record_event(incident, "opened", actor_label=source, level=level, category=category or "",
                         reason=reason, message=message.external_id if message else None)
            live.incident_changed(incident, "incident.opened")
            if level == "explicit":
                transaction.on_commit(lambda: schedule_auto_notify(incident), robust=True)
            return incident, True

    changed = []
    if level_rank(level) > incident.level_rank:
        record_event(incident, "raised", actor_label=source, level=level, previous=incident.level,
                     category=category or "", message=message.external_id if message else None)
        incident.level, incident.level_rank = level, level_rank(level)
        incident.category = category or incident.category
        changed += ["level", "level_rank", "category"]
        if level == "explicit":
            transaction.on_commit(lambda: schedule_auto_notify(incident), robust=True)
    if incident.status == "returned" and level_rank(level) >= level_rank("high_risk"):
        # Handed back to the AI, then a new risk: it goes back in the queue.
        record_event(incident, "reopened", actor_label=source, level=level)
        incident.status, incident.claimed_by, incident.claimed_at = "open", None, None
        changed += ["status", "claimed_by", "claimed_at"]
    if changed:
        incident.save(update_fields=changed)
        live.incident_changed(incident)
    return incident, created


def schedule_auto_notify(incident):
    """Run the contact chain's sweep when this explicit incident's auto-notify deadline passes.

    Beat sweeps every 5 s, so the chain would start up to 5 s late; this timer (a Celery countdown)
    starts it on time. The sweep stays the guarantee: if the broker is down, or the timer is lost
    with a worker, the next sweep starts the chain.
    """
    from contacts.tasks import sweep_notifications

    due = incident.opened_at + timedelta(seconds=settings.ESCALATION_AUTO_NOTIFY_SECONDS)
    countdown = max((due - timezone.now()).total_seconds(), 0) + AUTO_NOTIFY_MARGIN_SECONDS
    outbox.schedule(sweep_notifications, countdown)


def _iso(value):
    return value.isoformat() if value else None


def incident_summary(incident) -> dict:
    return {
        "id": str(incident.pk),
        "conversation": incident.conversation.external_id,
        "level": incident.level,
        "category": incident.category or None,
        "status": incident.status,
        "outcome": incident.outcome or None,
        "opened_at": _iso(incident.opened_at),
        "claimed_at": _iso(incident.claimed_at),
        "resolved_at": _iso(incident.resolved_at),
    }


def incident_detail(incident) -> dict:
    timeline = [
        {"at": _iso(e.at), "kind": e.kind, "actor": e.actor_label, "data": e.data}
        for e in incident.events.order_by("id")
    ]
    return {**incident_summary(incident), "timeline": timeline}
