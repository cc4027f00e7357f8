"""Staff login throttling, session expiry, security headers, and a clean `check --deploy`."""
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from escalation.roles import create_staff

PASSWORD = "long-enough-1"


def login(client, password):
    return client.post("/accounts/login/", {"username": "sam", "password": password}, REMOTE_ADDR="10.0.0.7")


@pytest.mark.axes
@pytest.mark.django_db
def test_five_failed_logins_lock_the_account_even_for_the_right_password(client):
    create_staff("sam", PASSWORD, "operator")
    for _ in range(5):
        assert login(client, "wrong-password").status_code in (200, 429)
    locked = login(client, PASSWORD)
    assert locked.status_code == 429
    assert b"locked" in locked.content.lower()
    assert "_auth_user_id" not in client.session


@pytest.mark.axes
@pytest.mark.django_db
def test_a_right_password_logs_in_and_lands_on_the_console(client):
    create_staff("sam", PASSWORD, "operator")
    response = login(client, PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/console/"


@pytest.mark.django_db
def test_an_expired_session_is_logged_out(client):
    create_staff("sam", PASSWORD, "operator")
    client.login(username="sam", password=PASSWORD)
    assert client.get("/console/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/console/").status_code == 302
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600 and settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


@pytest.mark.django_db
def test_pages_carry_csp_frame_and_content_type_headers(client):
    response = client.get("/accounts/login/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_forms_need_csrf(client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/accounts/login/", {"username": "sam", "password": PASSWORD}).status_code == 403


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "x" * 20 + "-production-secret-" + "y" * 30,
           "PUBLIC_BASE_URL": "https://console.example.org", "ALLOWED_HOSTS": "console.example.org",
           "VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def login_from(client, password, address, forwarded_for=None):
    extra = {"REMOTE_ADDR": address}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client.post("/accounts/login/", {"username": "sam", "password": password}, **extra)


@pytest.mark.axes
@pytest.mark.django_db
class TestLockoutIsPerUsernameAndAddress:
    """Issue 12, item 10: a guesser must not lock a real operator out from another address."""

    def test_a_lockout_from_one_address_leaves_another_address_alone(self, client):
        create_staff("sam", PASSWORD, "operator")
        for _ in range(5):
            login_from(client, "wrong-password", "10.0.0.66")
        assert login_from(client, PASSWORD, "10.0.0.66").status_code == 429
        assert login_from(client, PASSWORD, "10.0.0.7")["Location"] == "/console/"

    def test_behind_the_proxy_the_address_is_the_one_the_proxy_saw(self, client, settings):
        """Behind a TLS proxy every request comes from the proxy's address: locking by username and
        that address locked by username alone. The proxy appends the client's address to
        X-Forwarded-For; the right-most entry is the one it saw (those before it the client wrote)."""
        settings.BEHIND_PROXY = True
        create_staff("sam", PASSWORD, "operator")
        for n in range(5):  # whatever the guesser writes in the header, the proxy's entry is last
            login_from(client, "wrong-password", "127.0.0.1", f"198.51.100.{n}, 203.0.113.9")
        assert login_from(client, PASSWORD, "127.0.0.1", "198.51.100.7, 203.0.113.9").status_code == 429
        assert login_from(client, PASSWORD, "127.0.0.1", "198.51.100.7")["Location"] == "/console/"

    def test_without_a_proxy_the_header_is_ignored(self, client):
        """Not behind a proxy, X-Forwarded-For is whatever the client wrote: it must not unlock."""
        create_staff("sam", PASSWORD, "operator")
        for n in range(5):
            login_from(client, "wrong-password", "10.0.0.66", f"203.0.113.{n}")
        assert login_from(client, PASSWORD, "10.0.0.66", "198.51.100.7").status_code == 429

    def test_an_admin_unlocks_in_the_admin_and_the_audit_trail_says_so(self, client):
        from axes.models import AccessAttempt
        from django.test import Client

        from escalation.models import AuditEntry

        create_staff("sam", PASSWORD, "operator")
        for _ in range(5):
            login_from(client, "wrong-password", "10.0.0.7")
        assert login_from(client, PASSWORD, "10.0.0.7").status_code == 429
        admin = Client()
        create_staff("ada", PASSWORD, "admin")
        assert admin.post("/accounts/login/", {"username": "ada", "password": PASSWORD},
                          REMOTE_ADDR="10.0.0.1").status_code == 302
        attempt = AccessAttempt.objects.get(username="sam", ip_address="10.0.0.7")
        response = admin.post("/admin/axes/accessattempt/", {"action": "delete_selected", "post": "yes",
                                                             "_selected_action": [attempt.pk]}, REMOTE_ADDR="10.0.0.1")
        assert response.status_code == 302 and not AccessAttempt.objects.filter(username="sam",
                                                                                ip_address="10.0.0.7").exists()
        entry = AuditEntry.objects.get(action="login.unlocked")
        assert entry.actor.username == "ada" and entry.data == {"username": "sam", "failures": 6}
        assert login_from(client, PASSWORD, "10.0.0.7")["Location"] == "/console/"

    def test_an_admin_unlocks_from_the_command_line(self, client):
        create_staff("sam", PASSWORD, "operator")
        for _ in range(5):
            login_from(client, "wrong-password", "10.0.0.7")
        assert login_from(client, PASSWORD, "10.0.0.7").status_code == 429
        call_command("axes_reset_username", "sam", stdout=StringIO())
        assert login_from(client, PASSWORD, "10.0.0.7")["Location"] == "/console/"


RESET_PAGES = ("/accounts/password_reset/", "/accounts/password_reset/done/", "/accounts/reset/MQ/set-password/",
               "/accounts/reset/done/")


@pytest.mark.django_db
class TestPasswordResetOnlyWithEmail:
    """Issue 12, item 16: without a mail server the reset pages only tried SMTP (localhost:25) in
    the request. They exist only when EMAIL_HOST is set; an admin resets passwords otherwise."""

    def test_without_email_the_reset_pages_are_not_found_and_nothing_is_sent(self, client, settings):
        from django.contrib.auth.models import User
        from django.core import mail

        settings.EMAIL_HOST = ""
        create_staff("sam", PASSWORD, "operator")
        User.objects.filter(username="sam").update(email="sam@example.org")
        for page in RESET_PAGES:
            assert client.get(page).status_code == 404, page
        assert client.post("/accounts/password_reset/", {"email": "sam@example.org"}).status_code == 404
        assert mail.outbox == []

    def test_with_email_a_reset_link_is_mailed(self, client, settings):
        from django.contrib.auth.models import User
        from django.core import mail

        settings.EMAIL_HOST = "smtp.example.org"
        create_staff("sam", PASSWORD, "operator")
        User.objects.filter(username="sam").update(email="sam@example.org")
        assert client.get("/accounts/password_reset/").status_code == 200
        response = client.post("/accounts/password_reset/", {"email": "sam@example.org"})
        assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
        assert [message.to for message in mail.outbox] == [["sam@example.org"]]
        assert "/accounts/reset/" in mail.outbox[0].body

    def test_logging_in_and_changing_ones_password_still_work(self, client, settings):
        settings.EMAIL_HOST = ""
        create_staff("sam", PASSWORD, "operator")
        client.login(username="sam", password=PASSWORD)
        assert client.get("/accounts/password_change/").status_code == 200
