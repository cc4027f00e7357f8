"""The API under faults: Redis down keeps accepting; the database down answers 503 JSON, never HTML."""
import pytest
from django.db import connection

from escalation.models import Incident
from tests.support.servers import free_port

EXPLICIT = {"id": "m-1", "user": "u-1", "role": "user", "text": "I am going to kill myself tonight"}


@pytest.mark.django_db(transaction=True)
def test_redis_down_the_api_still_stores_answers_and_opens_the_incident(api, redis_down):
    response = api.post("/api/v1/conversations/c-1/messages", EXPLICIT, format="json")
    assert response.status_code == 201
    assert "hold_for_operator" in [d["type"] for d in response.json()["directives"]]
    assert Incident.objects.get().level == "explicit"


@pytest.fixture
def database_down(transactional_db):
    """Point the connection at a database that cannot be reached, then restore it."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-dir/db.sqlite3"
    else:
        connection.settings_dict["PORT"] = str(free_port())
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


def test_database_down_is_a_503_json_with_retry_after(api_key, database_down):
    from tests.conftest import client_for

    response = client_for(api_key).post("/api/v1/conversations/c-1/messages", EXPLICIT, format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "unavailable"


def test_healthz_says_503_when_the_database_is_down(client, database_down):
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "database unavailable"
