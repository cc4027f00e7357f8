import pytest

from escalation.roles import create_staff


@pytest.mark.django_db
def test_console_needs_a_staff_login(client):
    response = client.get("/console/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_queue_lists_explicit_first(client, api):
    api.post("/api/v1/conversations/c-low/messages",
             {"id": "1", "user": "u1", "role": "user", "text": "x", "flag": {"level": "high_risk"}}, format="json")
    api.post("/api/v1/conversations/c-top/messages",
             {"id": "1", "user": "u2", "role": "user", "text": "x", "flag": {"level": "explicit"}}, format="json")
    create_staff("sam", "long-enough-1", "operator")
    client.login(username="sam", password="long-enough-1")
    page = client.get("/console/").content.decode()
    assert page.index("c-top") < page.index("c-low")
