"""Crafted input is a JSON 4xx with a code, never a 500 (issue 12, item 12).

`str.isdigit()` is true for digits `int()` refuses (`²`), and `int()` of an ASCII number can still
overflow the database's integer; every number read from a request goes through one helper
(`escalation.params.whole_number`)."""
import pytest
from django.test import Client

from escalation import webhooks
from escalation.params import whole_number

from .escalation.helpers import flagged, supervisor

CRAFTED = ["²", "1²", "٣", "-1", "+1", " 1", "1.0", "", "9" * 19, "9" * 5000]


@pytest.mark.parametrize("text", CRAFTED)
def test_only_plain_ascii_numbers_that_fit_are_numbers(text):
    assert whole_number(text) is None


@pytest.mark.parametrize("text, number", [("0", 0), ("42", 42), ("007", 7), (str(2 ** 63 - 1), 2 ** 63 - 1)])
def test_plain_numbers_are_read(text, number):
    assert whole_number(text) == number


@pytest.mark.django_db
class TestReadBack:
    @pytest.fixture(autouse=True)
    def _conversation(self, api):
        assert api.post("/api/v1/conversations/c-1/messages", {"id": "m-1", "user": "u-1", "role": "user",
                                                               "text": "Hello"}, format="json").status_code == 201

    @pytest.mark.parametrize("param", ["limit", "after"])
    @pytest.mark.parametrize("value", ["²", "9" * 30])
    def test_a_crafted_page_parameter_is_a_422(self, api, param, value):
        response = api.get(f"/api/v1/conversations/c-1/messages?{param}={value}")
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid"

    def test_plain_parameters_still_page(self, api):
        body = api.get("/api/v1/conversations/c-1/messages?after=0&limit=1").json()
        assert [m["id"] for m in body["messages"]] == ["m-1"]


@pytest.mark.django_db
class TestConsole:
    def test_a_crafted_transcript_cursor_is_a_400(self, api):
        incident = flagged(api)
        client = Client()
        client.force_login(supervisor())
        for value in ("²", "9" * 30, "abc"):
            response = client.get(f"/console/incidents/{incident.pk}/?before={value}")
            assert response.status_code == 400 and response.json()["error"]["code"] == "invalid", value
        assert client.get(f"/console/incidents/{incident.pk}/?before=999").status_code == 200

    @pytest.mark.parametrize("url", ["/console/reports/data.json", "/console/reports/", "/console/reports/incidents.csv",
                                     "/console/reports/referrals-2026.csv"])
    @pytest.mark.parametrize("value", ["²", "9" * 30])
    def test_a_crafted_report_product_is_a_400(self, url, value):
        client = Client()
        client.force_login(supervisor())
        response = client.get(f"{url}?product={value}")
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_a_crafted_signature_timestamp_does_not_verify():
    body = b'{"x":1}'
    good = webhooks.sign("secret", 1_700_000_000, body)
    assert webhooks.verify("secret", good, body, now=1_700_000_000)
    crafted = good.replace("t=1700000000", "t=1700000000²")
    assert webhooks.verify("secret", crafted, body, now=1_700_000_000) is False


@pytest.mark.django_db
class TestSentAt:
    @pytest.mark.parametrize("sent_at", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00",
                                         "0001-01-01T00:30:00-01:00", "0001-01-02T00:00:00Z"])
    def test_a_sent_at_in_year_one_is_a_422_and_the_retry_is_stored(self, api, sent_at):
        body = {"id": "m-1", "user": "u-1", "role": "user", "text": "Hello", "sent_at": sent_at}
        response = api.post("/api/v1/conversations/c-1/messages", body, format="json")
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid"
        assert "sent_at" in response.json()["error"]["fields"]
        del body["sent_at"]
        assert api.post("/api/v1/conversations/c-1/messages", body, format="json").status_code == 201

    def test_a_sent_at_in_year_one_in_a_flag_transcript_is_a_422(self, api):
        response = api.post("/api/v1/flags", {"conversation": "c-1", "user": "u-1", "level": "explicit",
                                              "transcript": [{"id": "m-1", "role": "user", "text": "Hello",
                                                              "sent_at": "0001-01-01T00:00:00Z"}]}, format="json")
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid"


@pytest.mark.django_db
@pytest.mark.parametrize("length", ["²", "abc", "-1"])
def test_a_crafted_content_length_is_a_400(api, length):
    response = api.post("/api/v1/conversations/c-1/messages", data=b"{}", content_type="application/json",
                        CONTENT_LENGTH=length)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
