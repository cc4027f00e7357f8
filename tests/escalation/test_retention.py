"""Retention: the daily purge deletes what is older than RETENTION_DAYS, keeps what a legal hold
covers, and the reports of the purged days still add up (DailyStat)."""
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from contacts.models import Contact, EndUser, Notification
from conversations.models import Conversation, IdempotentRequest, Message, UsageDay
from escalation import reports, retention, takeover
from escalation.models import AuditEntry, DailyStat, Incident, IncidentEvent, RollupDay, WebhookEvent

from .helpers import flagged, operator_of

pytestmark = pytest.mark.django_db
OLD = timedelta(days=200)


def minor(api, user):
    response = api.put(f"/api/v1/users/{user}", {"age_group": "minor", "contacts": [
        {"name": "Mum", "kind": "guardian", "phone": "+8613800138000"}]}, format="json")
    assert response.status_code == 200


def handled(api, product, conversation, user):
    """An explicit incident taken over, talked in, returned, with its chain started."""
    minor(api, user)
    incident = flagged(api, conversation=conversation, user=user)
    olive = operator_of(product, f"op-{conversation}")
    takeover.claim(olive, incident.pk)
    takeover.send_message(olive, incident.pk, "I'm here.")
    takeover.notify_contacts(olive, incident.pk)
    takeover.return_to_ai(olive, incident.pk)
    return incident


def age(conversations, when):
    """Move everything of these conversations (and their users) back to `when`."""
    users = EndUser.objects.filter(conversations__in=conversations)
    incidents = Incident.objects.filter(conversation__in=conversations)
    Message.objects.filter(conversation__in=conversations).update(received_at=when, sent_at=when)
    IncidentEvent.objects.filter(incident__in=incidents).update(at=when)
    Notification.objects.filter(contact__end_user__in=users).update(created_at=when)
    Notification.objects.filter(incident__in=incidents).update(created_at=when)
    UsageDay.objects.filter(end_user__in=users).update(day=when.date())
    Contact.history.filter(end_user_id__in=users.values("pk")).update(history_date=when)
    for incident in incidents:
        WebhookEvent.objects.filter(body__contains=str(incident.pk)).update(created_at=when)
    IdempotentRequest.objects.update(created_at=when)


@pytest.fixture
def world(api, product):
    product.webhook_url = "https://product.example/hook"
    product.save()
    now = timezone.now()
    old = now - OLD
    plain = handled(api, product, "c-plain", "u-plain")
    held_user = handled(api, product, "c-held-user", "u-held")
    held_incident = handled(api, product, "c-held-incident", "u-inc")
    for incident in (plain, held_user, held_incident):  # usage rows exist whatever the hour (late nights make them)
        UsageDay.objects.get_or_create(end_user_id=incident.conversation.end_user_id, day=now.date(),
                                       defaults={"minutes": 5})
    age(Conversation.objects.all(), old)
    EndUser.objects.filter(external_id="u-held").update(legal_hold=True)
    Incident.objects.filter(pk=held_incident.pk).update(legal_hold=True)
    # Audit entries cannot be moved back in time (that is the point): old ones are written as old.
    for incident in (plain, held_user, held_incident):
        AuditEntry.objects.create(action="old.entry", at=old, incident_id=incident.pk,
                                  end_user_id=incident.conversation.end_user_id)
    AuditEntry.objects.create(action="reminder.suggest_break", at=old, product=product)
    recent = flagged(api, conversation="c-recent", user="u-recent")  # today: nothing of it goes
    return {"now": now, "old": old, "plain": plain, "held_user": held_user, "held_incident": held_incident,
            "recent": recent}


def rows_of(incident):
    return {
        "messages": Message.objects.filter(conversation_id=incident.conversation_id).count(),
        "events": IncidentEvent.objects.filter(incident=incident).count(),
        "chain": Notification.objects.filter(incident=incident).count(),
        "verification": Notification.objects.filter(contact__end_user=incident.conversation.end_user_id,
                                                    incident=None).count(),
        "usage_days": UsageDay.objects.filter(end_user_id=incident.conversation.end_user_id).count(),
        "audit_old": AuditEntry.objects.filter(action="old.entry", incident_id=incident.pk).count(),
        "webhooks": WebhookEvent.objects.filter(body__contains=str(incident.pk)).count(),
    }


def test_the_purge_deletes_old_rows_and_keeps_held_and_recent_ones(world, settings):
    settings.RETENTION_DAYS = 180
    before = {name: rows_of(world[name]) for name in ("plain", "held_user", "held_incident", "recent")}
    assert all(before["plain"].values())  # the fixture has a row of every kind to purge
    counts = retention.purge(world["now"])

    after = {name: rows_of(world[name]) for name in before}
    assert after["plain"] == dict.fromkeys(before["plain"], 0)
    assert after["held_user"] == before["held_user"]
    # A hold on an incident keeps the incident's rows; the user's own (usage, verification texts) go.
    assert after["held_incident"] == {**before["held_incident"], "usage_days": 0, "verification": 0}
    assert after["recent"] == before["recent"]
    assert counts["messages"] == before["plain"]["messages"]
    assert not AuditEntry.objects.filter(action="reminder.suggest_break").exists()
    # The incidents themselves stay (anonymous: level, times, outcome), so do recent audit entries.
    assert Incident.objects.count() == 4
    assert AuditEntry.objects.filter(action="message.assessed", incident_id=None).exists()
    assert not Contact.history.filter(end_user_id=world["plain"].conversation.end_user_id).exists()
    assert Contact.history.filter(end_user_id=world["held_user"].conversation.end_user_id).exists()


def test_nothing_younger_than_the_retention_period_goes(world, settings):
    settings.RETENTION_DAYS = 365
    total = Message.objects.count(), IncidentEvent.objects.count(), Notification.objects.count()
    counts = retention.purge(world["now"])
    assert (Message.objects.count(), IncidentEvent.objects.count(), Notification.objects.count()) == total
    assert counts["messages"] == counts["incident_events"] == counts["audit_entries"] == 0


def test_reports_of_purged_days_still_add_up(world, settings, product):
    settings.RETENTION_DAYS = 180
    day = world["old"].date()
    before = reports.compute(day, day)
    assert before["notifications"]["delivered"] == [0]  # pending chains: nothing final yet
    assert before["takeovers"]["claimed"] == [3] and before["takeovers"]["returned"] == [3]
    assert before["reminders"]["suggest_break"] == [1]
    Notification.objects.filter(incident=world["plain"]).update(status="delivered")
    Notification.objects.filter(incident=world["held_user"]).update(status="timed_out")
    before = reports.compute(day, day)
    assert before["notifications"]["delivered"] == [1] and before["notifications"]["fell_through"] == [1]

    retention.purge(world["now"])
    assert RollupDay.objects.filter(day=day).exists()
    assert DailyStat.objects.filter(day=day, product=product, metric="takeover.claimed").get().value == 3
    after = reports.compute(day, day)
    for name in ("notifications", "takeovers", "reminders", "incidents_by_level", "age_structure"):
        assert after[name] == before[name], name
    # The held rows are still there but counted once (from DailyStat, not again live).
    assert IncidentEvent.objects.filter(kind="claimed").count() == 2  # the two held incidents'
    assert reports.rollup(day) is False  # once


def test_retention_never_goes_below_180_days_without_the_override(settings):
    settings.RETENTION_DAYS = 30
    settings.RETENTION_ALLOW_SHORT = False
    assert retention.retention_days() == 180
    settings.RETENTION_ALLOW_SHORT = True
    assert retention.retention_days() == 30
    assert django_settings.CELERY_BEAT_SCHEDULE["purge-expired"]["task"] == "escalation.tasks.purge_expired"


def test_the_purge_task_runs_the_purge(world, settings):
    from escalation.tasks import purge_expired

    settings.RETENTION_DAYS = 180
    counts = purge_expired.apply().get()
    assert counts["messages"] > 0 and not Message.objects.filter(conversation_id=world["plain"].conversation_id)

