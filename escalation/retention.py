"""Retention: logs are kept RETENTION_DAYS (at least 180: final Measures Art. 10, Cybersecurity Law
Art. 21), then purged by a daily task; a legal hold on an end user or an incident keeps its rows.

    purge()   counts of rows deleted per table

Before a day's rows go, their anonymous counts are rolled up into DailyStat (escalation.reports),
so the reports of old periods still add up after the purge. Purged whole days at a time: the cutoff
is midnight (UTC) RETENTION_DAYS ago.
"""
import logging
from datetime import datetime, time, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact, EndUser, Notification
from conversations import exact
from conversations.models import Conversation, IdempotentRequest, Message, UsageDay

from . import oncall, reports
from .models import AuditEntry, ConsolePresence, Incident, IncidentEvent, WebhookEvent

log = logging.getLogger(__name__)
FLOOR_DAYS = 180
BATCH = 1000


def retention_days() -> int:
    """RETENTION_DAYS, never below 180 unless RETENTION_ALLOW_SHORT is set (tests, a demo)."""
    days = int(settings.RETENTION_DAYS)
    if days < FLOOR_DAYS and not settings.RETENTION_ALLOW_SHORT:
        log.warning("RETENTION_DAYS=%d is below the legal minimum; keeping %d days (set RETENTION_ALLOW_SHORT=1 "
                    "to override)", days, FLOOR_DAYS)
        return FLOOR_DAYS
    return max(days, 1)


def cutoff(now=None) -> datetime:
    """Rows older than this go: midnight UTC at the start of the day `retention_days()` ago."""
    now = now or timezone.now()
    day = (now - timedelta(days=retention_days())).astimezone(dt_timezone.utc).date()
    return datetime.combine(day, time.min, tzinfo=dt_timezone.utc)


def held():
    """(end user ids, incident ids, conversation ids) under a legal hold, directly or through their user."""
    users = list(EndUser.objects.filter(legal_hold=True).values_list("pk", flat=True))
    incidents = list(Incident.objects.filter(Q(legal_hold=True) | Q(conversation__end_user_id__in=users))
                     .values_list("pk", flat=True))
    conversations = list(Conversation.objects.filter(Q(end_user_id__in=users) | Q(incidents__pk__in=incidents))
                         .values_list("pk", flat=True).distinct())
    return users, incidents, conversations


def purge(now=None) -> dict:
    before = cutoff(now)
    rolled = reports.rollup_before(before.date())
    users, incidents, conversations = held()
    counts = {"rolled_up_days": rolled}
    counts["messages"] = _delete_in_batches(
        Message.objects.filter(received_at__lt=before).exclude(conversation_id__in=conversations))
    counts["incident_events"] = IncidentEvent.objects.filter(at__lt=before).exclude(
        incident_id__in=incidents).delete()[0]
    counts["notifications"] = Notification.objects.filter(created_at__lt=before).exclude(
        incident_id__in=incidents).exclude(contact__end_user_id__in=users).delete()[0]
    counts["usage_days"] = UsageDay.objects.filter(day__lt=before.date()).exclude(end_user_id__in=users).delete()[0]
    webhooks = WebhookEvent.objects.filter(created_at__lt=before)
    for incident_id in incidents:  # an event names its incident in the body
        webhooks = webhooks.exclude(exact.contains("body", str(incident_id)))
    counts["webhook_events"] = webhooks.delete()[0]
    counts["idempotent_requests"] = IdempotentRequest.objects.filter(created_at__lt=before).delete()[0]
    counts["contact_history"] = Contact.history.filter(history_date__lt=before).exclude(
        end_user_id__in=users).delete()[0]
    # The audit trail's one deletion path (AuditEntry refuses every other).
    counts["audit_entries"] = AuditEntry.objects.exclude(incident_id__in=incidents).exclude(
        end_user_id__in=users)._purge_older_than(before)
    ConsolePresence.objects.filter(seen_at__lt=timezone.now() - oncall.PRESENCE_STALE).delete()
    log.info("retention purge before %s: %s", before.isoformat(), counts)
    return counts


def _delete_in_batches(queryset) -> int:
    deleted = 0
    while True:
        pks = list(queryset.values_list("pk", flat=True)[:BATCH])
        if not pks:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=pks).delete()[1].get(queryset.model._meta.label, 0)
