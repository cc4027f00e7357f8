"""Incidents left unclaimed too long are escalated: marked, the supervisors on shift paged by SMS
(all supervisors when nobody is on shift: escalation.oncall), and a console alert sent.

Run every few seconds by Celery beat. Idempotent: a conditional UPDATE marks each incident once,
however many workers run the check.
"""
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import audit, live, oncall
from .models import Incident
from .services import record_event


def overdue_incidents(now):
    for level, seconds in settings.ESCALATE_UNCLAIMED_AFTER_SECONDS.items():
        yield from Incident.objects.filter(
            status="open", escalated_at__isnull=True, level=level, opened_at__lte=now - timedelta(seconds=seconds)
        ).values_list("pk", flat=True)[:500]


def escalate_overdue(now=None) -> int:
    now = now or timezone.now()
    escalated = 0
    for pk in list(overdue_incidents(now)):
        with transaction.atomic():
            if not Incident.objects.filter(pk=pk, status="open", escalated_at__isnull=True).update(escalated_at=now):
                continue  # claimed meanwhile, or another worker got there first
            incident = Incident.objects.select_related("product", "conversation__end_user").get(pk=pk)
            waited = int((now - incident.opened_at).total_seconds())
            record_event(incident, "escalated", actor_label="console", waited_seconds=waited)
            paging = oncall.page_for_escalation(incident, now)  # the supervisors on shift, by SMS
            audit.record("incident.escalated", obj=incident, waited_seconds=waited, **paging)
            live.incident_changed(incident, alert="escalated")
            escalated += 1
    return escalated
