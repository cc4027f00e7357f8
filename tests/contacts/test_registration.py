"""Registration rules kept by workers: verification links, reminders, restriction, birthdays."""
import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from contacts import chain, registration, sms_text
from contacts.models import Contact, EndUser, Notification
from conversations.models import Product
from escalation.models import AuditEntry, WebhookEvent

from .conftest import MOTHER

GUARDIAN = {"name": "Li Hua", "relationship": "mother", "kind": "guardian", "phone": MOTHER}


def register(api, user_id="kid", **body):
    body.setdefault("birth_date", "2012-03-01")
    body.setdefault("contacts", [GUARDIAN])
    response = api.put(f"/api/v1/users/{user_id}", {"first_name": "Xiaoming", "locale": "en", **body}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def sent_link(twilio):
    chain.sweep()
    for pk in Notification.objects.filter(status="pending").values_list("pk", flat=True):
        chain.send(pk)
    [request] = twilio.wait_for(lambda r: len(r) == 1)
    return re.search(r"https://console\.example(/c/verify/\S+)", request.body).group(1)


@pytest.mark.django_db
class TestVerification:
    def test_a_minors_new_contact_is_texted_a_link_that_verifies_once(self, api, twilio, client):
        assert register(api)["registration"] == "pending_verification"
        path = sent_link(twilio)
        page = client.get(path)
        assert page.status_code == 200 and b"confirm" in page.content.lower()
        assert Contact.objects.get().verified_at is None, "opening the link (or a link preview) verifies no one"
        assert client.post(path).status_code == 200
        assert Contact.objects.get().verified_at is not None
        assert api.get("/api/v1/users/kid").json()["registration"] == "complete"
        assert client.post(path).status_code == 410, "single use"
        assert client.get(path).status_code == 410

    def test_an_expired_link_verifies_no_one(self, api, twilio, client):
        register(api)
        path = sent_link(twilio)
        Contact.objects.get().verifications.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert client.post(path).status_code == 410
        assert Contact.objects.get().verified_at is None

    def test_an_unknown_token_is_410(self, client, db):
        assert client.post("/c/verify/not-a-token").status_code == 410

    def test_the_same_contact_again_is_not_texted_again_but_a_new_number_is(self, api, twilio):
        register(api)
        register(api)
        assert Notification.objects.filter(kind="verify").count() == 1
        register(api, contacts=[{**GUARDIAN, "phone": "+8613900139000"}])
        assert Notification.objects.filter(kind="verify").count() == 2

    def test_adults_contacts_need_no_verification(self, api, twilio):
        register(api, user_id="adult", birth_date="1990-01-01")
        assert not Notification.objects.exists()

    def test_the_text_is_fixed_wording_and_our_own_link_only(self, api, twilio, product):
        evil = "http://evil.example/v"
        register(api, first_name=evil, contacts=[{**GUARDIAN, "name": f"Li {evil}",
                                                  "relationship": f"mother, confirm at {evil}"}])
        path = sent_link(twilio)
        [request] = twilio.accepted()
        assert request.body == (f"{product.name}: this number was given as an emergency contact. If you agree, "
                                f"confirm within 72 hours: https://console.example{path} (otherwise ignore this text)")
        words = request.body.replace(path, "")  # the link's random token may hold any letters ("Li" did)
        assert "evil" not in words and "mother" not in words and "Li" not in words


@pytest.mark.django_db
class TestDeadlines:
    def test_unverified_after_the_deadline_is_restricted_and_the_product_told(self, api, twilio, product):
        product.webhook_url = "https://product.example/hooks"
        product.save()
        register(api)
        deadline = EndUser.objects.get().registration_deadline
        assert deadline - timezone.now() > timedelta(hours=71)
        assert registration.enforce_deadlines(now=deadline - timedelta(hours=25))["restricted"] == 0
        counts = registration.enforce_deadlines(now=deadline + timedelta(seconds=1))
        assert counts["restricted"] == 1
        assert api.get("/api/v1/users/kid").json()["registration"] == "restricted"
        event = WebhookEvent.objects.get(type="user.registration_restricted")
        assert '"user":"kid"' in event.body

    def test_a_reminder_goes_out_once_in_the_last_day(self, api, twilio):
        register(api)
        deadline = EndUser.objects.get().registration_deadline
        assert registration.enforce_deadlines(now=deadline - timedelta(hours=30))["reminded"] == 0
        assert registration.enforce_deadlines(now=deadline - timedelta(hours=20))["reminded"] == 1
        assert registration.enforce_deadlines(now=deadline - timedelta(hours=10))["reminded"] == 0
        assert Notification.objects.filter(kind="reminder").count() == 1

    def test_verifying_after_restriction_completes_the_registration(self, api, twilio, client):
        register(api)
        path = sent_link(twilio)
        registration.enforce_deadlines(now=EndUser.objects.get().registration_deadline + timedelta(seconds=1))
        assert EndUser.objects.get().registration == "restricted"
        Contact.objects.get().verifications.update(expires_at=timezone.now() + timedelta(hours=1))
        assert client.post(path).status_code == 200
        assert EndUser.objects.get().registration == "complete"

    def test_a_minor_turning_eighteen_is_re_evaluated(self, db):
        today = date.today()
        product = Product.objects.create(name="p")
        eighteen_today = today.replace(year=today.year - 18, day=min(today.day, 28))
        EndUser.objects.create(product=product, external_id="x", birth_date=eighteen_today, age_group="minor",
                               registration="pending_verification", registration_deadline=timezone.now())
        assert registration.enforce_deadlines()["regrouped"] == 1
        user = EndUser.objects.get()
        assert (user.age_group, user.registration) == ("adult", "not_required")


def text_all_pending():
    for pk in Notification.objects.filter(status="pending").values_list("pk", flat=True):
        chain.send(pk)


@pytest.mark.django_db
class TestVerificationLimits:
    """At most VERIFY_TEXTS_PER_NUMBER_PER_HOUR texts to one number (whichever product asks) and
    VERIFY_TEXTS_PER_PRODUCT_PER_HOUR per product; the rest wait, the registration is kept."""

    def test_one_number_is_texted_at_most_n_times_an_hour_whichever_product_asks(self, api, other_api, twilio,
                                                                               settings):
        settings.VERIFY_TEXTS_PER_NUMBER_PER_HOUR = 2
        assert register(api, "kid-1")["contacts"][0]["verification"] == "sent"
        assert register(other_api, "kid-2")["contacts"][0]["verification"] == "sent"
        third = register(api, "kid-3")
        assert (third["registration"], third["contacts"][0]["verification"]) == ("pending_verification", "delayed")
        assert EndUser.objects.filter(external_id="kid-3").exists(), "the registration itself is kept"
        text_all_pending()
        assert len(twilio.wait_for(lambda r: len(r) == 2)) == 2
        assert Notification.objects.filter(to_phone=MOTHER).count() == 2
        [entry] = AuditEntry.objects.filter(action="verification.limited")
        assert entry.data == {"kind": "verify", "limit": "number", "to": "+86138****8000"}
        assert entry.product.name == "companion-a" and entry.end_user_id == EndUser.objects.get(
            external_id="kid-3").pk
        assert register(api, "kid-3")["contacts"][0]["verification"] == "delayed", "tried again, still over"
        assert AuditEntry.objects.filter(action="verification.limited").count() == 2

    def test_a_product_sends_at_most_n_texts_an_hour(self, api, other_api, twilio, settings):
        settings.VERIFY_TEXTS_PER_PRODUCT_PER_HOUR = 2
        for index, phone in enumerate(["+8613800138001", "+8613800138002"]):
            register(api, f"kid-{index}", contacts=[{**GUARDIAN, "phone": phone}])
        limited = register(api, "kid-3", contacts=[{**GUARDIAN, "phone": "+8613800138003"}])
        assert limited["contacts"][0]["verification"] == "delayed"
        assert AuditEntry.objects.get(action="verification.limited").data["limit"] == "product"
        assert register(other_api, "kid-9", contacts=[{**GUARDIAN, "phone": "+8613800138003"}])[
            "contacts"][0]["verification"] == "sent", "another product has its own allowance"
        assert not Notification.objects.filter(to_phone="+8613800138003", product__name="companion-a").exists()

    def test_a_delayed_text_goes_out_once_the_hour_has_passed(self, api, twilio, settings):
        settings.VERIFY_TEXTS_PER_NUMBER_PER_HOUR = 1
        register(api, "kid-1")
        assert register(api, "kid-2")["contacts"][0]["verification"] == "delayed"
        assert registration.enforce_deadlines()["texted"] == 0, "still within the hour"
        Notification.objects.update(created_at=timezone.now() - timedelta(minutes=61))
        assert registration.enforce_deadlines()["texted"] == 1
        assert api.get("/api/v1/users/kid-2").json()["contacts"][0]["verification"] == "sent"
        assert registration.enforce_deadlines()["texted"] == 0, "texted once"


@pytest.mark.parametrize("first_name, shown", [("Xiaoming", "Xiaoming"), ("小明", "小明"), ("Anne-Marie", "Anne-Marie"),
                                               ("http://evil.example/x", None), ("evil.example", None)])
def test_an_urgent_text_names_a_first_name_and_nothing_else(db, first_name, shown):
    end_user = EndUser(product=Product(name="p"), first_name=first_name, locale="en")
    body = sms_text.render("sms", end_user)
    assert (shown or "a person who named you as their contact") in body
    assert "evil" not in body


@pytest.mark.django_db(transaction=True)
def test_a_contact_replaced_while_its_text_is_in_flight_is_recorded_not_resent(api, twilio):
    """A PUT replaced the contact while a worker was inside the provider call: the worker crashed
    reading the deleted contact, after the text had gone, so the sweep sent it again."""
    import threading

    from django.db import connections

    from .conftest import FATHER

    twilio.behave(MOTHER, "hold")
    register(api)
    chain.sweep()
    [pk] = Notification.objects.filter(status="pending").values_list("pk", flat=True)
    errors = []

    def worker():
        try:
            chain.send(pk)
        except Exception as error:  # noqa: BLE001  (what the test looks for)
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    twilio.wait_for(lambda requests: len(requests) == 1)  # the worker is inside the provider call
    register(api, contacts=[{**GUARDIAN, "phone": FATHER}])  # the mother's number is replaced
    twilio.release()
    thread.join(10)
    assert not errors, errors
    notification = Notification.objects.get(pk=pk)
    assert notification.status == "sent" and notification.provider_sid and notification.contact_id is None
    assert AuditEntry.objects.filter(action="notification.sent", object_id=str(pk)).exists()
    chain.sweep()
    assert not Notification.objects.filter(pk=pk, status="pending").exists()
    assert [r.to for r in twilio.requests].count(MOTHER) == 1
