"""The audit trail: append-only in every ordinary path, and written by the real actions it records."""
import json
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from contacts.models import EndUser
from conversations.models import ApiKey
from escalation import audit, takeover
from escalation.models import AuditEntry, AuditRefused, Shift
from escalation.roles import create_staff

from .helpers import PASSWORD, flagged, operator_of, supervisor

pytestmark = pytest.mark.django_db
TEXT = "I want to end it all tonight"
PHONE = "+8613800138000"


def actions():
    return list(AuditEntry.objects.order_by("id").values_list("action", flat=True))


def all_audit_data() -> str:
    return json.dumps(list(AuditEntry.objects.values("actor_label", "object_id", "data")), ensure_ascii=False)


class TestImmutable:
    def test_an_entry_cannot_be_changed_or_deleted(self):
        entry = audit.record("test.action", actor_label="console", thing=1)
        entry.action = "forged"
        with pytest.raises(AuditRefused):
            entry.save()
        with pytest.raises(AuditRefused):
            entry.delete()
        assert AuditEntry.objects.get(pk=entry.pk).action == "test.action"

    def test_querysets_refuse_update_delete_and_bulk_update(self):
        entry = audit.record("test.action", actor_label="console")
        with pytest.raises(AuditRefused):
            AuditEntry.objects.filter(pk=entry.pk).update(action="forged")
        with pytest.raises(AuditRefused):
            AuditEntry.objects.all().delete()
        entry.action = "forged"
        with pytest.raises(AuditRefused), transaction.atomic():
            AuditEntry.objects.bulk_update([entry], ["action"])
        assert AuditEntry.objects.filter(action="test.action").count() == 1

    def test_deleting_the_actor_leaves_the_entry(self):
        olive = create_staff("olive", PASSWORD, "operator")
        entry = audit.record("test.action", actor=olive)
        olive_id = olive.pk
        olive.delete()
        entry = AuditEntry.objects.get(pk=entry.pk)
        assert (entry.actor_id, entry.actor_label) == (olive_id, "olive")

    def test_only_the_purge_path_deletes(self):
        old = AuditEntry.objects.create(action="old", at=timezone.now() - timedelta(days=400))
        new = audit.record("new")
        assert AuditEntry.objects.all()._purge_older_than(timezone.now() - timedelta(days=200)) == 1
        assert list(AuditEntry.objects.values_list("pk", flat=True)) == [new.pk]
        assert not AuditEntry.objects.filter(pk=old.pk).exists()


class TestRecorded:
    def test_a_user_message_records_its_assessment_without_the_text(self, api, product):
        flagged(api, text=TEXT)
        entry = AuditEntry.objects.get(action="message.assessed")
        assert entry.actor_label == "product:companion-a" and entry.product_id == product.pk
        assert entry.data["level"] == "explicit" and entry.data["product_level"] == "explicit"
        assert entry.end_user_id == EndUser.objects.get().pk
        assert TEXT not in all_audit_data()

    def test_a_benign_assessment_is_not_audited_but_a_distress_one_is(self, api):
        for n, text in enumerate(["What should I cook tonight?", "I feel so hopeless and alone"]):
            assert api.post("/api/v1/conversations/c-9/messages", {"id": f"b{n}", "user": "u-9", "role": "user",
                                                                   "text": text}, format="json").status_code == 201
        assert list(AuditEntry.objects.filter(action="message.assessed").values_list("data__level", flat=True)) \
            == ["distress"]

    def test_a_flag_is_recorded(self, api):
        response = api.post("/api/v1/flags", {"conversation": "c-2", "user": "u-2", "level": "high_risk",
                                              "reason": "classifier", "transcript": [
                                                  {"id": "t1", "role": "user", "text": TEXT}]}, format="json")
        assert response.status_code == 201
        entry = AuditEntry.objects.get(action="flag.received")
        assert entry.object_type == "incident" and entry.object_id == response.json()["incident"]["id"]
        assert entry.data["merged"] == 1 and entry.incident_id is not None
        assert AuditEntry.objects.filter(action="message.assessed").count() == 1
        assert TEXT not in all_audit_data()

    def test_api_key_use_is_recorded_once_an_hour(self, api, product):
        for n in range(3):
            assert api.get("/api/v1/conversations/nope").status_code == 404
        key = ApiKey.objects.get(product=product)
        used = AuditEntry.objects.filter(action="api_key.used")
        assert used.count() == 1 and used.get().object_id == str(key.pk) and used.get().data["prefix"] == key.prefix
        audit._key_seen.clear()  # another process: the database still says "recorded this hour"
        api.get("/api/v1/conversations/nope")
        assert used.count() == 1

    def test_takeover_actions_are_recorded(self, api, product):
        incident = flagged(api)
        olive = operator_of(product)
        takeover.claim(olive, incident.pk)
        takeover.send_message(olive, incident.pk, "I'm here with you.")
        takeover.return_to_ai(olive, incident.pk, "calmer now")
        takeover.claim(olive, incident.pk)
        takeover.resolve(olive, incident.pk, "safe", "spoke to them")
        mine = list(AuditEntry.objects.filter(actor=olive).order_by("id").values_list("action", flat=True))
        assert mine == ["incident.claimed", "operator.message", "incident.returned", "incident.claimed",
                        "incident.resolved"]
        assert "I'm here with you." not in all_audit_data() and "calmer now" not in all_audit_data()
        assert AuditEntry.objects.filter(actor=olive, incident_id=incident.pk).count() == 5

    def test_opening_a_transcript_and_reading_full_phones_is_recorded(self, api, product):
        api.put("/api/v1/users/u-1", {"age_group": "minor", "contacts": [
            {"name": "Mum", "kind": "guardian", "phone": PHONE}]}, format="json")
        incident = flagged(api)
        olive, sue = operator_of(product), supervisor()
        for user in (olive, sue):
            client = Client()
            client.force_login(user)
            assert client.get(f"/console/incidents/{incident.pk}/").status_code == 200
        viewed = AuditEntry.objects.filter(action="transcript.viewed", object_id=str(incident.pk))
        assert sorted(viewed.values_list("actor_label", flat=True)) == ["olive", "sue"]
        phones = AuditEntry.objects.filter(action="phones.viewed")
        assert list(phones.values_list("actor_label", flat=True)) == ["sue"]  # operators see masked numbers
        assert PHONE not in all_audit_data()

    def test_notification_attempts_are_recorded_with_masked_numbers(self, api):
        api.put("/api/v1/users/u-1", {"age_group": "minor", "contacts": [
            {"name": "Mum", "kind": "guardian", "phone": PHONE}]}, format="json")
        from contacts.models import Notification

        notification = Notification.objects.get(kind="verify")
        entry = AuditEntry.objects.get(action="notification.pending", object_id=str(notification.pk))
        assert entry.data["to"] == "+86138****8000" and entry.data["kind"] == "verify"
        assert PHONE not in all_audit_data()


class FormValues(HTMLParser):
    """The values a browser would submit from a page's forms (inputs, selects, textareas)."""

    def __init__(self):
        super().__init__()
        self.values, self._select, self._textarea = {}, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") == "checkbox":
                if "checked" in attrs:
                    self.values[name] = attrs.get("value", "on")
            else:
                self.values[name] = attrs.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def form_of(client, url):
    parser = FormValues()
    parser.feed(client.get(url).content.decode())
    parser.values.pop("csrfmiddlewaretoken", None)
    return parser.values


class TestAdmin:
    def test_admin_changes_and_legal_holds_are_recorded(self, api, product):
        api.put("/api/v1/users/u-1", {"age_group": "adult"}, format="json")
        admin_user = create_staff("ada", PASSWORD, "admin")
        client = Client()
        client.force_login(admin_user)
        end_user = EndUser.objects.get()
        url = f"/admin/contacts/enduser/{end_user.pk}/change/"
        data = form_of(client, url)
        data["legal_hold"] = "on"
        response = client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:2000]
        end_user.refresh_from_db()
        assert end_user.legal_hold
        change = AuditEntry.objects.get(action="admin.change")
        assert change.actor == admin_user and change.object_type == "enduser" and change.end_user_id == end_user.pk
        assert change.data["change"] == [{"changed": {"fields": ["Legal hold"]}}]
        assert AuditEntry.objects.filter(action="legal_hold.set", object_id=str(end_user.pk), actor=admin_user).exists()

    def test_adding_a_shift_and_deleting_it_is_recorded(self):
        admin_user = create_staff("ada", PASSWORD, "admin")
        olive = create_staff("olive", PASSWORD, "operator")
        client = Client()
        client.force_login(admin_user)
        data = form_of(client, "/admin/escalation/shift/add/")
        data.update({"user": olive.pk, "role": "operator", "starts_at_0": "2026-01-01", "starts_at_1": "08:00:00",
                     "ends_at_0": "2026-01-01", "ends_at_1": "16:00:00"})
        assert client.post("/admin/escalation/shift/add/", data).status_code == 302
        shift = Shift.objects.get()
        assert client.post(f"/admin/escalation/shift/{shift.pk}/delete/", {"post": "yes"}).status_code == 302
        assert [a for a in actions() if a.startswith("admin.")] == ["admin.add", "admin.delete"]
        assert set(AuditEntry.objects.filter(action__startswith="admin.").values_list("object_id", flat=True)) == {
            str(shift.pk)}

    def test_the_audit_trail_is_read_only_in_the_admin(self):
        entry = audit.record("test.action")
        client = Client()
        client.force_login(create_staff("ada", PASSWORD, "admin"))
        assert client.get(f"/admin/escalation/auditentry/{entry.pk}/change/").status_code == 200
        assert client.post(f"/admin/escalation/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
        assert AuditEntry.objects.filter(pk=entry.pk).exists()
