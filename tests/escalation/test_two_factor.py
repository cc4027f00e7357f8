"""Two-factor authentication, required per role by an admin."""
import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from escalation.models import RolePolicy
from escalation.roles import create_staff

PASSWORD = "long-enough-1"


def code_for(device):
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


@pytest.fixture
def supervisor_client(client, db):
    create_staff("sue", PASSWORD, "supervisor")
    client.login(username="sue", password=PASSWORD)
    return client


@pytest.mark.django_db
def test_without_a_policy_the_console_opens(supervisor_client):
    assert supervisor_client.get("/console/").status_code == 200


def test_a_required_role_must_set_up_an_app_first(supervisor_client):
    RolePolicy.objects.create(role="supervisor", require_two_factor=True)
    response = supervisor_client.get("/console/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/setup/")
    page = supervisor_client.get(response["Location"])
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user__username="sue")
    wrong = supervisor_client.post("/accounts/2fa/setup/?next=/console/", {"token": "000000"})
    assert wrong.status_code == 200 and not TOTPDevice.objects.get().confirmed
    assert TOTPDevice.objects.get().throttling_failure_count == 1  # guessing is slowed down
    TOTPDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    right = supervisor_client.post("/accounts/2fa/setup/?next=/console/", {"token": code_for(device)})
    assert right.status_code == 302 and right["Location"] == "/console/"
    assert supervisor_client.get("/console/").status_code == 200


def test_the_next_login_asks_for_a_code(client, db):
    user = create_staff("sue", PASSWORD, "supervisor")
    RolePolicy.objects.create(role="supervisor", require_two_factor=True)
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    client.login(username="sue", password=PASSWORD)
    response = client.get("/console/reports/")
    assert response["Location"].startswith("/accounts/2fa/?next=")
    assert client.post(response["Location"], {"token": code_for(device)}).status_code == 302
    assert client.get("/console/").status_code == 200


def test_other_roles_are_not_asked(client, db):
    RolePolicy.objects.create(role="supervisor", require_two_factor=True)
    create_staff("olive", PASSWORD, "operator")
    client.login(username="olive", password=PASSWORD)
    assert client.get("/console/").status_code == 200


def test_an_open_redirect_is_refused(supervisor_client):
    RolePolicy.objects.create(role="supervisor", require_two_factor=True)
    device = TOTPDevice.objects.create(user_id=supervisor_client.session["_auth_user_id"], name="app", confirmed=True)
    response = supervisor_client.post("/accounts/2fa/?next=https://evil.example/", {"token": code_for(device)})
    assert response["Location"] == "/console/"
