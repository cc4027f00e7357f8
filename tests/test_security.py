"""Staff login throttling, session expiry, security headers, and a clean `check --deploy`."""
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
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
