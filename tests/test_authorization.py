"""The authorisation matrix: every role against every page and API call, every cell asserted."""
import pytest
from django.contrib.auth.models import User

from conversations.models import Product
from escalation.models import StaffProfile
from escalation.roles import create_staff
from tests.escalation.helpers import flagged

PASSWORD = "long-enough-1"
ROLES = ["anonymous", "end_user_account", "operator_elsewhere", "operator", "supervisor", "admin"]


@pytest.fixture
def world(api, product):
    """An explicit incident of product A, with a guardian, and one account per role."""
    api.put("/api/v1/users/u-1", {"birth_date": "2012-01-01", "contacts": [
        {"name": "Li Hua", "kind": "guardian", "phone": "+8613800138000"}]}, format="json")
    incident = flagged(api)
    User.objects.create_user("end_user_account", password=PASSWORD)  # a non-staff account
    for role in ("operator", "supervisor", "admin"):
        create_staff(role, PASSWORD, role)
    StaffProfile.objects.create(user=User.objects.get(username="operator")).products.add(product)
    create_staff("operator_elsewhere", PASSWORD, "operator")
    StaffProfile.objects.create(user=User.objects.get(username="operator_elsewhere")).products.add(
        Product.objects.create(name="elsewhere"))
    return incident


def as_role(client, role):
    if role != "anonymous":
        assert client.login(username=role, password=PASSWORD)
    return client


EXPECTED = {
    # page: status per role, in ROLES order
    "/console/": [302, 302, 200, 200, 200, 200],
    "incident": [302, 302, 404, 200, 200, 200],
    "/admin/contacts/contact/": [302, 302, 403, 403, 403, 200],
    "/admin/escalation/incident/": [302, 302, 403, 403, 403, 200],
}


@pytest.mark.django_db
@pytest.mark.parametrize("page", list(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_pages(client, world, page, role):
    url = f"/console/incidents/{world.pk}/" if page == "incident" else page
    response = as_role(client, role).get(url)
    assert response.status_code == EXPECTED[page][ROLES.index(role)]


@pytest.mark.django_db
@pytest.mark.parametrize("role,phone", [("operator", "+86138****8000"), ("supervisor", "+8613800138000"),
                                        ("admin", "+8613800138000")])
def test_phone_numbers_in_full_only_for_supervisors_and_admins(client, world, role, phone):
    contacts = as_role(client, role).get(f"/console/incidents/{world.pk}/").json()["contacts"]
    assert [c["phone"] for c in contacts] == [phone]


API_CALLS = [
    ("get", "/api/v1/users/u-1"),
    ("put", "/api/v1/users/u-1"),
    ("get", "/api/v1/conversations/c-1"),
    ("get", "/api/v1/conversations/c-1/messages"),
    ("post", "/api/v1/conversations/c-1/messages"),
    ("post", "/api/v1/flags"),
    ("get", "incident"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("method,path", API_CALLS)
def test_api_without_a_key_is_401_and_a_staff_session_is_no_key(client, world, method, path):
    path = f"/api/v1/incidents/{world.pk}" if path == "incident" else path
    for caller in (client, as_role(client, "admin")):
        response = getattr(caller, method)(path, {}, content_type="application/json")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.django_db
@pytest.mark.parametrize("method,path", [c for c in API_CALLS if c[0] == "get"])
def test_another_products_key_sees_nothing_of_this_product(world, other_api, method, path):
    path = f"/api/v1/incidents/{world.pk}" if path == "incident" else path
    assert getattr(other_api, method)(path).status_code == 404


@pytest.mark.django_db
def test_another_products_key_writes_only_its_own_records(world, other_api):
    from contacts.models import EndUser

    other_api.put("/api/v1/users/u-1", {"age_group": "adult"}, format="json")
    other_api.post("/api/v1/flags", {"conversation": "c-1", "user": "u-1", "level": "high_risk"}, format="json")
    original = EndUser.objects.get(product__name="companion-a", external_id="u-1")
    assert original.age_group == "minor" and original.contacts.count() == 1
    assert world.conversation.messages.count() == 1
