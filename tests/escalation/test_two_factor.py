"""Two-factor authentication, required per role by an admin."""
import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from escalation import two_factor
from escalation.asgi import application
from escalation.models import AuditEntry, RolePolicy
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


def test_a_password_alone_cannot_enrol_a_second_authenticator(client, db):
    """The probe's bypass (issue 12, item 1): with only the password, the set-up page used to hand
    out a new secret and accept its code, which passed two-factor. Now it asks for the existing one."""
    user = create_staff("sue", PASSWORD, "supervisor")
    RolePolicy.objects.create(role="supervisor", require_two_factor=True)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    assert client.post("/accounts/login/", {"username": "sue", "password": PASSWORD}).status_code == 302

    page = client.get("/accounts/2fa/setup/?next=/console/")
    # Before the fix the page handed out this device; a code for it must not pass two-factor either way.
    new = TOTPDevice.objects.filter(confirmed=False).first() or \
        TOTPDevice.objects.create(user=user, name="attacker", confirmed=False)
    posted = client.post("/accounts/2fa/setup/?next=/console/", {"token": code_for(new)})
    console = client.get("/console/")
    assert console.status_code == 302 and console["Location"].startswith("/accounts/2fa/?next=")
    assert list(TOTPDevice.objects.filter(confirmed=True).values_list("name", flat=True)) == ["phone"]
    for response in (page, posted):  # sent to enter the code of the authenticator they have
        assert response.status_code == 302 and response["Location"] == "/accounts/2fa/?next=/console/"

def test_a_verified_session_may_add_another_authenticator(client, db):
    user = create_staff("sue", PASSWORD, "supervisor")
    RolePolicy.objects.create(role="supervisor", require_two_factor=True)
    phone = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.login(username="sue", password=PASSWORD)
    assert client.post("/accounts/2fa/?next=/console/", {"token": code_for(phone)}).status_code == 302
    assert client.get("/accounts/2fa/setup/").status_code == 200
    spare = TOTPDevice.objects.get(confirmed=False)
    assert client.post("/accounts/2fa/setup/", {"token": code_for(spare)})["Location"] == "/console/"
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 2


class TestStaffWithoutARole:
    """Issue 12, item 9: `createsuperuser` makes staff with no role group, who were never asked.
    A superuser is an admin; staff with no role at all are asked if any role is."""

    def test_a_superuser_is_asked_when_admins_are(self, client, db):
        User.objects.create_superuser("root", "", PASSWORD)
        RolePolicy.objects.create(role="admin", require_two_factor=True)
        client.login(username="root", password=PASSWORD)
        for page in ("/console/", "/admin/"):
            assert client.get(page)["Location"].startswith("/accounts/2fa/setup/?next=")

    def test_staff_with_no_role_are_asked_when_any_role_is(self, client, db):
        User.objects.create_user("temp", password=PASSWORD, is_staff=True)
        RolePolicy.objects.create(role="operator", require_two_factor=True)
        client.login(username="temp", password=PASSWORD)
        assert client.get("/console/")["Location"].startswith("/accounts/2fa/setup/?next=")

    @pytest.mark.django_db(transaction=True)
    @pytest.mark.usefixtures("redis_settings")
    def test_the_socket_signs_out_an_unverified_superuser(self):
        User.objects.create_superuser("root", "", PASSWORD)
        RolePolicy.objects.create(role="admin", require_two_factor=True)
        browser = Client()
        assert browser.login(username="root", password=PASSWORD)

        async def scenario():
            socket = WebsocketCommunicator(application, "/ws/console/", headers=[
                (b"origin", settings.PUBLIC_BASE_URL.encode()), (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())])
            assert (await socket.connect(timeout=5))[0]
            assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
            await socket.disconnect()

        async_to_sync(scenario)()


def test_an_admin_removes_a_lost_phone_and_the_audit_trail_says_so(client, db):
    sue = create_staff("sue", PASSWORD, "supervisor")
    RolePolicy.objects.create(role="supervisor", require_two_factor=True)
    phone = TOTPDevice.objects.create(user=sue, name="phone", confirmed=True)
    sue_browser = Client()
    sue_browser.login(username="sue", password=PASSWORD)
    sue_browser.post("/accounts/2fa/", {"token": code_for(phone)})
    assert sue_browser.get("/console/").status_code == 200 and two_factor.passed(sue, sue_browser.session)

    ada = create_staff("ada", PASSWORD, "admin")
    client.login(username="ada", password=PASSWORD)
    response = client.post("/admin/auth/user/", {"action": "remove_two_factor_devices", "_selected_action": [sue.pk]})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=sue).exists()
    entry = AuditEntry.objects.get(action="two_factor.reset")
    assert (entry.actor, entry.object_type, entry.object_id, entry.data) == (ada, "user", str(sue.pk), {"devices": 1})

    # The session verified with the lost phone no longer passes: not on the socket, not on pages.
    assert not two_factor.passed(sue, sue_browser.session)
    assert sue_browser.get("/console/")["Location"].startswith("/accounts/2fa/setup/?next=")
