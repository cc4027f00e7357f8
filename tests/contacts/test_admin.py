import re

import pytest
from django.utils import timezone

from contacts.models import Contact, EndUser, Notification
from escalation.models import AuditEntry
from escalation.roles import create_staff
from tests.escalation.test_audit import form_of

GUARDIAN = {"name": "Li Hua", "relationship": "mother", "kind": "guardian", "phone": "+8613800138000"}


@pytest.fixture
def admin_client(client, db):
    create_staff("ada", "long-enough-1", "admin")
    client.login(username="ada", password="long-enough-1")
    return client


def test_contact_list_masks_phones_and_filters_by_verification(api, admin_client):
    api.put("/api/v1/users/kid", {"birth_date": "2012-01-01", "contacts": [GUARDIAN]}, format="json")
    page = admin_client.get("/admin/contacts/contact/?verified_at__isempty=1").content.decode()
    assert "+86138****8000" in page and "+8613800138000" not in page
    assert "Li Hua" in page


def test_every_change_to_a_contact_is_in_its_history(api, admin_client):
    api.put("/api/v1/users/kid", {"birth_date": "2012-01-01", "contacts": [GUARDIAN]}, format="json")
    api.put("/api/v1/users/kid", {"birth_date": "2012-01-01", "contacts": [{**GUARDIAN, "name": "Li Hua (mum)"}]},
            format="json")
    contact = Contact.objects.get()
    assert [h.name for h in contact.history.order_by("history_date")] == ["Li Hua", "Li Hua (mum)"]
    assert admin_client.get(f"/admin/contacts/contact/{contact.pk}/history/").status_code == 200


def test_notifications_are_listed_read_only(admin_client):
    assert admin_client.get("/admin/contacts/notification/").status_code == 200
    assert admin_client.get("/admin/contacts/notification/add/").status_code == 403


# --- the registration rules hold in the admin as in the API (issue 12, item 6) ----------------------

SECOND = "+8613900139000"


def minor(api, user_id="kid", contacts=(GUARDIAN,)):
    response = api.put(f"/api/v1/users/{user_id}", {"birth_date": "2012-01-01", "contacts": list(contacts)},
                       format="json")
    assert response.status_code == 200, response.json()
    return EndUser.objects.get(external_id=user_id)


def change_page(admin_client, end_user):
    url = f"/admin/contacts/enduser/{end_user.pk}/change/"
    return url, form_of(admin_client, url)


def errors_of(response) -> str:
    assert response.status_code == 200, "the form is shown again with its errors, nothing saved"
    return response.content.decode()


def without_link(body):
    return re.sub(r"/c/verify/\S+", "/c/verify/…", body)


def verify_texts(phone):
    return Notification.objects.filter(kind="verify", to_phone=phone)


@pytest.mark.django_db
class TestAdminKeepsTheRegistrationRules:
    def test_a_phone_that_is_not_e164_is_a_form_error(self, api, admin_client):
        end_user = minor(api)
        url, data = change_page(admin_client, end_user)
        data["contacts-0-phone"] = "12345"
        page = errors_of(admin_client.post(url, data))
        assert "Not a valid international (E.164) phone number." in page
        assert Contact.objects.get().phone == GUARDIAN["phone"]

    def test_a_changed_number_is_normalised_unverified_and_texted_as_through_the_api(self, api, admin_client):
        end_user = minor(api)
        Contact.objects.update(verified_at=timezone.now())
        end_user.registration = "complete"
        end_user.save()
        url, data = change_page(admin_client, end_user)
        data["contacts-0-phone"] = "+86 139 0013 9000"
        assert admin_client.post(url, data).status_code == 302
        contact = Contact.objects.get()
        assert (contact.phone, contact.verified_at) == (SECOND, None), "a new number is not verified"
        [text] = verify_texts(SECOND)
        through_the_api = verify_texts(GUARDIAN["phone"]).get()
        assert without_link(text.body) == without_link(through_the_api.body), "the API's text, with its own link"
        assert text.body != through_the_api.body
        assert contact.verifications.count() == 1, "the link sent to the old number no longer verifies"
        assert EndUser.objects.get().registration == "pending_verification"

    def test_the_only_guardian_of_a_minor_cannot_be_deleted_from_the_inline(self, api, admin_client):
        end_user = minor(api)
        url, data = change_page(admin_client, end_user)
        data["contacts-0-DELETE"] = "on"
        assert "must have a guardian" in errors_of(admin_client.post(url, data))
        assert Contact.objects.count() == 1

    def test_nor_turned_into_an_emergency_contact(self, api, admin_client):
        end_user = minor(api)
        url, data = change_page(admin_client, end_user)
        data["contacts-0-kind"] = "emergency"
        assert "must have a guardian" in errors_of(admin_client.post(url, data))
        assert Contact.objects.get().kind == "guardian"

    def test_the_only_guardian_cannot_be_deleted_from_its_own_page(self, api, admin_client):
        minor(api)
        contact = Contact.objects.get()
        url = f"/admin/contacts/contact/{contact.pk}/delete/"
        response = admin_client.post(url, {"post": "yes"}, follow=True)
        assert "must have a guardian" in response.content.decode()
        assert Contact.objects.filter(pk=contact.pk).exists()
        assert not AuditEntry.objects.filter(action="admin.delete").exists()

    def test_the_only_guardian_cannot_be_deleted_by_the_bulk_action(self, api, admin_client):
        minor(api)
        minor(api, "kid-2", [GUARDIAN, {**GUARDIAN, "phone": SECOND}])
        selected = list(Contact.objects.values_list("pk", flat=True))
        response = admin_client.post("/admin/contacts/contact/", {
            "action": "delete_selected", "_selected_action": selected, "post": "yes"}, follow=True)
        assert "must have a guardian" in response.content.decode()
        assert Contact.objects.count() == 3, "nothing deleted"
        assert not AuditEntry.objects.filter(action="admin.delete").exists()

    def test_an_elders_only_contact_cannot_be_deleted_either(self, api, admin_client):
        response = api.put("/api/v1/users/gran", {"birth_date": "1940-01-01",
                                                  "contacts": [{**GUARDIAN, "kind": "emergency"}]}, format="json")
        assert response.status_code == 200, response.json()
        url, data = change_page(admin_client, EndUser.objects.get())
        data["contacts-0-DELETE"] = "on"
        assert "must have a guardian or emergency contact" in errors_of(admin_client.post(url, data))
        assert Contact.objects.count() == 1

    def test_one_of_two_guardians_may_be_deleted(self, api, admin_client):
        minor(api, contacts=[GUARDIAN, {**GUARDIAN, "phone": SECOND}])
        contact = Contact.objects.get(phone=SECOND)
        assert admin_client.post(f"/admin/contacts/contact/{contact.pk}/delete/", {"post": "yes"}).status_code == 302
        assert list(Contact.objects.values_list("phone", flat=True)) == [GUARDIAN["phone"]]

    def test_a_minor_without_a_guardian_cannot_be_added(self, product, admin_client):
        data = form_of(admin_client, "/admin/contacts/enduser/add/")
        data.update({"product": product.pk, "external_id": "kid", "birth_date": "2012-01-01"})
        assert "must have a guardian" in errors_of(admin_client.post("/admin/contacts/enduser/add/", data))
        assert not EndUser.objects.exists()

    def test_a_minor_added_with_a_guardian_is_pending_and_the_guardian_texted(self, product, admin_client):
        data = form_of(admin_client, "/admin/contacts/enduser/add/")
        data.update({"product": product.pk, "external_id": "kid", "birth_date": "2012-01-01",
                     "age_group": "adult", "contacts-TOTAL_FORMS": "1", "contacts-0-name": "Li Hua",
                     "contacts-0-kind": "guardian", "contacts-0-phone": "+86 138 0013 8000",
                     "contacts-0-priority": "1"})
        response = admin_client.post("/admin/contacts/enduser/add/", data)
        assert response.status_code == 302, response.content.decode()[:3000]
        end_user = EndUser.objects.get()
        assert (end_user.age_group, end_user.registration) == ("minor", "pending_verification"), \
            "the birth date wins, as in the API"
        assert end_user.registration_deadline is not None
        assert verify_texts(GUARDIAN["phone"]).count() == 1

    def test_a_contact_added_on_its_own_page_is_validated_and_texted(self, api, admin_client):
        end_user = minor(api)
        data = form_of(admin_client, "/admin/contacts/contact/add/")
        data.update({"end_user": end_user.pk, "name": "Wang Qiang", "kind": "guardian", "phone": "139",
                     "priority": "2"})
        assert "Not a valid international" in errors_of(admin_client.post("/admin/contacts/contact/add/", data))
        data["phone"] = SECOND
        assert admin_client.post("/admin/contacts/contact/add/", data).status_code == 302
        assert verify_texts(SECOND).count() == 1


def test_the_admin_says_why_in_chinese_too(api, admin_client):
    minor(api)
    contact = Contact.objects.get()
    response = admin_client.post(f"/admin/contacts/contact/{contact.pk}/delete/", {"post": "yes"}, follow=True,
                                 headers={"accept-language": "zh-hans"})
    assert "未成年用户必须有一位监护人。 请先添加另一位联系人，再删除这一位（用户 kid）。" in response.content.decode()
