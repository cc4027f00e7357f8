"""Every error on the API is JSON in the contract's shape, never HTML, never a 500 for bad input."""
import pytest

from conversations.models import ApiKey, Message


def assert_error(response, status, code):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)


@pytest.mark.django_db
class TestErrors:
    url = "/api/v1/conversations/c-1/messages"

    def test_no_key_is_401(self, client):
        response = client.get("/api/v1/users/u-1")
        assert_error(response, 401, "unauthenticated")
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_unknown_key_is_401(self, client):
        assert_error(client.get("/api/v1/users/u-1", HTTP_AUTHORIZATION="Bearer ek_nope"), 401, "unauthenticated")

    def test_revoked_key_is_401(self, api, product):
        ApiKey.objects.update(revoked_at="2026-01-01T00:00:00Z")
        assert_error(api.get("/api/v1/users/u-1"), 401, "unauthenticated")

    def test_malformed_json_is_400(self, api):
        response = api.post(self.url, data=b'{"id": "m", ', content_type="application/json")
        assert_error(response, 400, "malformed_json")

    def test_deeply_nested_json_is_400_not_500(self, api):
        body = b'{"id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        assert_error(api.post(self.url, data=body, content_type="application/json"), 400, "malformed_json")

    def test_wrong_types_are_422_with_fields(self, api):
        response = api.post(self.url, {"id": 5, "role": "user", "text": ["a"], "user": "u"}, format="json")
        assert_error(response, 422, "invalid")
        assert "text" in response.json()["error"]["fields"]
        assert not Message.objects.exists()

    def test_a_json_array_body_is_422(self, api):
        assert_error(api.post(self.url, [1, 2], format="json"), 422, "invalid")

    def test_form_encoded_body_is_415(self, api):
        response = api.post(self.url, data="id=m", content_type="application/x-www-form-urlencoded")
        assert_error(response, 415, "unsupported_media_type")

    def test_body_over_one_megabyte_is_413(self, api):
        body = b'{"id": "m", "user": "u", "role": "user", "text": "' + b"a" * (1024 * 1024) + b'"}'
        assert_error(api.post(self.url, data=body, content_type="application/json"), 413, "body_too_large")
        assert not Message.objects.exists()

    def test_text_over_the_limit_is_422(self, api):
        response = api.post(self.url, {"id": "m", "user": "u", "role": "user", "text": "a" * 20_001}, format="json")
        assert_error(response, 422, "invalid")

    def test_unknown_route_under_api_is_json_404(self, api):
        assert_error(api.get("/api/v1/nothing-here"), 404, "not_found")

    def test_unknown_incident_is_404(self, api):
        assert_error(api.get("/api/v1/incidents/00000000-0000-0000-0000-000000000000"), 404, "not_found")

    def test_wrong_method_is_405(self, api):
        assert_error(api.delete("/api/v1/flags"), 405, "method_not_allowed")


@pytest.mark.django_db
def test_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/users/{user_id}", "/api/v1/conversations/{conversation_id}/messages", "/api/v1/flags",
                 "/api/v1/conversations/{conversation_id}", "/api/v1/incidents/{incident_id}"):
        assert path in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


@pytest.mark.django_db
def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_openapi_schema_is_valid_and_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/flags" in (tmp_path / "schema.yaml").read_text()


@pytest.mark.django_db
def test_static_files_are_served_without_debug(client, settings):
    settings.DEBUG = False
    response = client.get("/static/console/console.css")
    assert response.status_code == 200
