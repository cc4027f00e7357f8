"""The emergency-contact chain against a local stand-in Twilio, through the real twilio SDK."""
from datetime import timedelta

import pytest
from django.utils import timezone
from twilio.request_validator import RequestValidator

from contacts import chain
from contacts.models import Notification
from escalation import takeover
from escalation.models import Incident, StaffProfile
from escalation.takeover import TakeoverError
from tests.escalation.helpers import flagged, operator_of, supervisor
from tests.support.concurrency import at_once
from .conftest import AUNT, AUTH_TOKEN, FATHER, MOTHER



def start(incident, product):
    with_operator = operator_of(product)
    takeover.notify_contacts(with_operator, incident.pk)
    return with_operator


def send_due():
    """What the worker does for every due step (the worker itself is tested below)."""
    for pk in Notification.objects.filter(status="pending", next_attempt_at__lte=timezone.now()).values_list(
            "pk", flat=True):
        chain.send(pk)


def callback(client, sid, status, error_code="", token=AUTH_TOKEN, kind="Message"):
    params = {f"{kind}Sid": sid, f"{kind}Status": status}
    if error_code:
        params["ErrorCode"] = error_code
    signature = RequestValidator(token).compute_signature("https://console.example/twilio/status/", params)
    return client.post("/twilio/status/", params, HTTP_X_TWILIO_SIGNATURE=signature)


def steps(incident):
    return list(incident.notifications.order_by("step").values_list("kind", "to_phone", "status"))


@pytest.mark.django_db
class TestChain:
    def test_operator_starts_it_and_the_first_contact_is_texted_without_chat_content(self, twilio, incident, product):
        start(incident, product)
        send_due()
        [request] = twilio.wait_for(lambda r: len(r) == 1)
        assert request.to == MOTHER and request.kind == "sms"
        assert "Xiaoming" in request.body and "12356" in request.body and "URGENT" in request.body
        assert "end it" not in request.body and "tonight" not in request.body and "miss" not in request.body
        assert request.params["StatusCallback"] == "https://console.example/twilio/status/"
        assert steps(incident) == [("sms", MOTHER, "sent")]
        kinds = list(incident.events.values_list("kind", flat=True))
        assert "notify_started" in kinds and "notification_sent" in kinds

    def test_it_starts_once(self, twilio, incident, product):
        start(incident, product)
        with pytest.raises(TakeoverError) as error:
            takeover.notify_contacts(supervisor(), incident.pk)
        assert error.value.code == "already_notified"

    def test_a_refused_number_moves_on_to_the_next_contact(self, twilio, incident, product):
        twilio.behave(MOTHER, "refuse")
        start(incident, product)
        send_due()
        send_due()
        assert [r.to for r in twilio.requests] == [MOTHER, FATHER]
        assert steps(incident) == [("sms", MOTHER, "failed"), ("sms", FATHER, "sent")]
        assert incident.notifications.get(step=0).error_code == "21211"

    def test_server_errors_and_429_are_retried_with_backoff_not_skipped(self, twilio, incident, product):
        twilio.behave(MOTHER, "error")
        start(incident, product)
        send_due()
        first = incident.notifications.get()
        assert first.status == "pending" and first.next_attempt_at > timezone.now()
        twilio.behave(MOTHER, "busy")
        Notification.objects.update(next_attempt_at=timezone.now())
        send_due()
        twilio.behave(MOTHER, "accept")
        Notification.objects.update(next_attempt_at=timezone.now())
        send_due()
        assert [r.to for r in twilio.requests] == [MOTHER] * 3
        assert steps(incident) == [("sms", MOTHER, "sent")]
        assert incident.notifications.get().attempts == 3

    def test_a_hanging_twilio_times_out_and_is_retried(self, twilio, incident, product, monkeypatch):
        monkeypatch.setattr("contacts.providers.HTTP_TIMEOUT", 0.5)
        twilio.behave(MOTHER, "hang")
        start(incident, product)
        send_due()
        assert incident.notifications.get().status == "pending"

    def test_delivered_ends_the_chain(self, twilio, incident, product, client):
        start(incident, product)
        send_due()
        sid = incident.notifications.get().provider_sid
        assert callback(client, sid, "delivered").status_code == 204
        assert steps(incident) == [("sms", MOTHER, "delivered")]
        chain.sweep(now=timezone.now() + timedelta(hours=1))
        send_due()
        assert len(twilio.requests) == 1

    @pytest.mark.parametrize("status", ["failed", "undelivered"])
    def test_failed_or_undelivered_moves_on(self, twilio, incident, product, client, status):
        start(incident, product)
        send_due()
        callback(client, incident.notifications.get().provider_sid, status, error_code="30006")
        send_due()
        assert steps(incident) == [("sms", MOTHER, "failed"), ("sms", FATHER, "sent")]
        assert incident.notifications.get(step=0).error_code == "30006"

    def test_no_delivery_in_time_moves_on(self, twilio, incident, product):
        start(incident, product)
        send_due()
        counts = chain.sweep(now=timezone.now() + timedelta(minutes=10))
        assert counts["timed_out"] == 1
        send_due()
        assert steps(incident) == [("sms", MOTHER, "timed_out"), ("sms", FATHER, "sent")]

    def test_duplicate_and_late_callbacks_change_nothing(self, twilio, incident, product, client):
        start(incident, product)
        send_due()
        sid = incident.notifications.get().provider_sid
        for status in ("undelivered", "undelivered", "delivered", "sent"):
            assert callback(client, sid, status).status_code == 204
        send_due()
        assert steps(incident) == [("sms", MOTHER, "failed"), ("sms", FATHER, "sent")]
        assert incident.events.filter(kind="notification_failed").count() == 1

    def test_forged_callbacks_are_refused(self, twilio, incident, product, client):
        start(incident, product)
        send_due()
        sid = incident.notifications.get().provider_sid
        assert callback(client, sid, "failed", token="not-the-token").status_code == 403
        assert client.post("/twilio/status/", {"MessageSid": sid, "MessageStatus": "failed"}).status_code == 403
        assert steps(incident) == [("sms", MOTHER, "sent")]

    def test_all_failing_ends_with_a_voice_call_then_supervisors_paged(self, twilio, incident, product, client,
                                                                      settings):
        settings.TWILIO_VOICE_ENABLED = True
        sue = supervisor()
        StaffProfile.objects.create(user=sue, phone="+14155550123")
        for number in (MOTHER, FATHER, AUNT):
            twilio.behave(number, "refuse")
        start(incident, product)
        for _ in range(3):
            send_due()
        twilio.behave(MOTHER, "accept")
        send_due()
        call = twilio.requests[-1]
        assert call.kind == "call" and call.to == MOTHER and "Xiaoming" in call.body
        callback(client, incident.notifications.get(kind="voice").provider_sid, "no-answer", kind="Call")
        send_due()
        page = twilio.requests[-1]
        assert page.kind == "sms" and page.to == "+14155550123"
        assert "/console/" in page.body and "Xiaoming" not in page.body
        assert [k for k, _, _ in steps(incident)] == ["sms", "sms", "sms", "voice", "page"]
        assert incident.events.filter(kind="chain_exhausted").count() == 1

    def test_without_voice_the_supervisors_are_paged_after_the_last_sms(self, twilio, incident, product):
        StaffProfile.objects.create(user=supervisor(), phone="+14155550123")
        for number in (MOTHER, FATHER, AUNT):
            twilio.behave(number, "refuse")
        start(incident, product)
        for _ in range(4):
            send_due()
        assert [r.to for r in twilio.requests] == [MOTHER, FATHER, AUNT, "+14155550123"]


@pytest.mark.django_db
class TestAutoStart:
    def test_an_unclaimed_explicit_incident_starts_its_chain_after_the_delay(self, twilio, incident, settings):
        settings.ESCALATION_AUTO_NOTIFY_SECONDS = 300
        assert chain.sweep(now=timezone.now() + timedelta(seconds=200))["auto_started"] == 0
        assert chain.sweep(now=timezone.now() + timedelta(seconds=301))["auto_started"] == 1
        assert incident.events.get(kind="notify_started").data["reason"] == "auto: unclaimed"
        assert chain.sweep(now=timezone.now() + timedelta(seconds=302))["auto_started"] == 0
        send_due()
        assert [r.to for r in twilio.requests] == [MOTHER]

    def test_a_claimed_incident_is_left_to_its_operator(self, twilio, incident, product):
        takeover.claim(operator_of(product), incident.pk)
        assert chain.sweep(now=timezone.now() + timedelta(hours=1))["auto_started"] == 0

    def test_high_risk_never_starts_by_itself(self, twilio, api):
        flagged(api, conversation="c-2", level="high_risk")
        assert chain.sweep(now=timezone.now() + timedelta(hours=1))["auto_started"] == 0
        assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_one_step_send_one_sms(twilio, incident, product):
    start(incident, product)
    pk = incident.notifications.get().pk
    at_once(lambda: chain.send(pk), lambda: chain.send(pk))
    assert len(twilio.requests) == 1
    assert Incident.objects.get(pk=incident.pk).notifications.get().attempts == 1


@pytest.mark.django_db
class TestNobodyToContact:
    """An explicit incident of a user with no contact on record (the README's own example): the chain
    ends once, says so, and pages the supervisors, however often the sweep runs."""

    def sweep_many(self, times=12):
        later = timezone.now() + timedelta(seconds=301)
        return [chain.sweep(now=later + timedelta(seconds=5 * i))["auto_started"] for i in range(times)]

    def test_the_chain_ends_once_and_pages_the_supervisors(self, twilio, api, client, settings, caplog):
        settings.ESCALATION_AUTO_NOTIFY_SECONDS = 300
        StaffProfile.objects.create(user=supervisor(), phone="+14155550123")
        incident = flagged(api, conversation="c-lonely", user="u-lonely")
        with caplog.at_level("INFO"):
            assert self.sweep_many() == [1] + [0] * 11
            send_due()
        kinds = list(incident.events.order_by("id").values_list("kind", flat=True))
        assert kinds.count("notify_started") == 1
        assert kinds.count("chain_no_contact") == 1 and "chain_exhausted" not in kinds
        assert incident.events.get(kind="supervisors_paged").data == {"paged": "sue", "on_shift": False}
        assert [r.to for r in twilio.requests] == ["+14155550123"], "paged once, for real"
        assert steps(incident) == [("page", "+14155550123", "sent")]
        callback(client, incident.notifications.get().provider_sid, "delivered")
        timeline_rows = incident.events.count()
        self.sweep_many()
        assert incident.events.count() == timeline_rows, "nothing more: the chain has ended"
        assert not [r for r in caplog.records if r.levelname == "ERROR"]

    def test_the_supervisor_on_shift_is_the_one_paged(self, twilio, api, product):
        from escalation.models import Shift

        StaffProfile.objects.create(user=supervisor(), phone="+14155550123")
        on_shift = supervisor("sam")
        StaffProfile.objects.create(user=on_shift, phone="+14155550199")
        now = timezone.now()
        Shift.objects.create(user=on_shift, role="supervisor", starts_at=now - timedelta(hours=1),
                             ends_at=now + timedelta(hours=1))
        incident = flagged(api, conversation="c-lonely", user="u-lonely")
        start(incident, product)  # an operator's click ends the same way
        send_due()
        assert incident.events.get(kind="supervisors_paged").data == {"paged": "sam", "on_shift": True}
        assert [r.to for r in twilio.requests] == ["+14155550199"]

    def test_with_nobody_to_page_the_timeline_says_so_once(self, twilio, api, caplog):
        incident = flagged(api, conversation="c-lonely", user="u-lonely")
        with caplog.at_level("INFO"):
            assert self.sweep_many() == [1] + [0] * 11
        kinds = list(incident.events.order_by("id").values_list("kind", flat=True))
        assert kinds[-3:] == ["notify_started", "chain_no_contact", "nobody_to_page"]
        assert "supervisors_paged" not in kinds and not twilio.requests
        assert [r.levelname for r in caplog.records if "no supervisor" in r.getMessage()] == ["WARNING"]
        assert not [r for r in caplog.records if r.levelname == "ERROR"]
