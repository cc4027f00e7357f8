"""End users' rights: export (GET /users/{id}/export) and erasure (DELETE /users/{id})."""
import json
from datetime import date

import pytest

from contacts.models import Contact, EndUser, Notification
from conversations.models import Conversation, HotlineReferral, IdempotentRequest, Message, UsageDay
from escalation import reports, takeover
from escalation.models import AuditEntry, Incident, IncidentEvent, WebhookEvent
from tests.escalation.helpers import flagged, operator_of

pytestmark = pytest.mark.django_db
MUM = "+8613800138000"
SECRET = "I will jump from the bridge tonight"
NOTE = "she told me her school name"


@pytest.fixture
def history(api, product):
    """A minor with a guardian, an explicit incident taken over and resolved, messages both ways."""
    product.webhook_url = "https://product.example/hook"
    product.save()
    response = api.put("/api/v1/users/u-1", {"birth_date": "2012-03-01", "first_name": "Xiaoming", "region": "CN",
                                            "locale": "zh-CN", "contacts": [
                                                {"name": "Li Hua", "relationship": "mother", "kind": "guardian",
                                                 "phone": MUM}]}, format="json")
    assert response.status_code == 200
    api.post("/api/v1/conversations/c-1/messages", {"id": "m-0", "user": "u-1", "role": "user", "text": "hello"},
             format="json")
    incident = flagged(api, message_id="m-1", text=SECRET)
    olive = operator_of(product)
    takeover.claim(olive, incident.pk)
    takeover.send_message(olive, incident.pk, "I'm Olive, I'm here with you.")
    takeover.notify_contacts(olive, incident.pk)
    takeover.resolve(olive, incident.pk, "contact_notified", NOTE)
    return incident


def test_export_has_the_users_whole_history(api, history):
    response = api.get("/api/v1/users/u-1/export")
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == "u-1" and body["user"]["first_name"] == "Xiaoming"
    assert body["user"]["age_group"] == "minor" and body["user"]["birth_date"] == "2012-03-01"
    assert body["contacts"] == [{"name": "Li Hua", "relationship": "mother", "kind": "guardian", "phone": MUM,
                                 "priority": 1, "verified_at": None, "created_at": body["contacts"][0]["created_at"]}]
    [conversation] = body["conversations"]
    assert [(m["id"], m["role"], m["text"]) for m in conversation["messages"]] == [
        ("m-0", "user", "hello"), ("m-1", "user", SECRET),
        (conversation["messages"][2]["id"], "operator", "I'm Olive, I'm here with you.")]
    [incident] = body["incidents"]
    assert incident["id"] == str(history.pk) and incident["outcome"] == "contact_notified"
    assert [e["kind"] for e in incident["timeline"]][:2] == ["opened", "claimed"]
    assert {n["kind"] for n in body["notifications"]} == {"verify", "sms"}
    assert body["usage_days"][0]["messages"] == 2
    entry = AuditEntry.objects.get(action="user.exported")
    assert entry.actor_label == "product:companion-a" and entry.data == {"conversations": 1, "incidents": 1}


def test_another_product_can_neither_export_nor_erase(history, other_api):
    assert other_api.get("/api/v1/users/u-1/export").status_code == 404
    response = other_api.delete("/api/v1/users/u-1")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert EndUser.objects.get().external_id == "u-1" and Message.objects.filter(text=SECRET).exists()


def every_text_in_the_database() -> str:
    """What an erased user could still be found by: every text column this app writes."""
    parts = [json.dumps(list(model.objects.values()), default=str, ensure_ascii=False) for model in (
        EndUser, Contact, Conversation, Message, Notification, IncidentEvent, Incident, IdempotentRequest,
        WebhookEvent, AuditEntry, UsageDay)]
    parts.append(json.dumps(list(Contact.history.values()), default=str, ensure_ascii=False))
    return "\n".join(parts)


def test_erase_removes_personal_data_and_texts_and_keeps_anonymous_counts(api, history, product):
    day = date.today()
    counts_before = reports.compute(day, day)
    referrals = HotlineReferral.objects.count()
    assert "u-1" in every_text_in_the_database() and MUM in every_text_in_the_database()

    response = api.delete("/api/v1/users/u-1")
    assert response.status_code == 204, response.content

    texts = every_text_in_the_database()
    for personal in (SECRET, "hello", "I'm Olive", NOTE, MUM, "Li Hua", "Xiaoming", '"u-1"', '"c-1"', "2012-03-01"):
        assert personal not in texts, personal
    assert not Message.objects.exists() and not Contact.objects.exists() and not UsageDay.objects.exists()
    # Anonymous counts stay: the incident (level, times, outcome), the referrals, the age group.
    incident = Incident.objects.get(pk=history.pk)
    assert (incident.level, incident.outcome, incident.status) == ("explicit", "contact_notified", "resolved")
    end_user = incident.conversation.end_user
    assert end_user.erased_at is not None and end_user.age_group == "minor" and end_user.external_id != "u-1"
    assert HotlineReferral.objects.count() == referrals
    assert Notification.objects.filter(incident=incident, kind="sms").exists()
    counts_after = reports.compute(day, day)
    for name in ("incidents_by_level", "time_to_claim", "takeovers", "referrals", "age_structure", "notifications"):
        assert counts_after[name] == counts_before[name], name
    assert AuditEntry.objects.get(action="user.erased").data["messages"] == 3

    assert api.get("/api/v1/users/u-1").status_code == 404
    assert api.get("/api/v1/conversations/c-1").status_code == 404
    assert api.delete("/api/v1/users/u-1").status_code == 404
    # The product may use the id again: a new, empty user.
    assert api.put("/api/v1/users/u-1", {"age_group": "adult"}, format="json").status_code == 200
    assert api.get("/api/v1/users/u-1/export").json()["conversations"] == []


def test_erasing_a_user_in_crisis_resolves_the_incident_and_stops_the_chain(api, product):
    api.put("/api/v1/users/u-1", {"age_group": "minor", "contacts": [
        {"name": "Mum", "kind": "guardian", "phone": MUM}]}, format="json")
    incident = flagged(api)
    takeover.notify_contacts(operator_of(product), incident.pk)
    assert api.delete("/api/v1/users/u-1").status_code == 204
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_at is not None
    step = Notification.objects.get(incident=incident)
    assert (step.status, step.error_code, step.to_phone, step.body) == ("failed", "user_erased", "", "")


@pytest.mark.parametrize("hold", ["user", "incident"])
def test_a_legal_hold_refuses_erasure(api, history, hold):
    if hold == "user":
        EndUser.objects.update(legal_hold=True)
    else:
        Incident.objects.update(legal_hold=True)
    response = api.delete("/api/v1/users/u-1")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "legal_hold"
    assert Message.objects.filter(text=SECRET).exists() and Contact.objects.filter(phone=MUM).exists()
    assert not AuditEntry.objects.filter(action="user.erased").exists()
