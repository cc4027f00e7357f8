import pytest

from contacts.models import Contact
from escalation.roles import create_staff

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
