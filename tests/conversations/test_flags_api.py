import pytest

from conversations.models import Message
from escalation.models import Incident

FLAG = {
    "conversation": "c-9", "user": "u-1", "level": "high_risk", "category": "self_harm", "reason": "keyword hit",
    "transcript": [
        {"id": "m1", "role": "user", "text": "I keep thinking about hurting myself", "sent_at": "2026-11-24T10:00:00Z"},
        {"id": "m2", "role": "assistant", "text": "I'm sorry you're feeling this way."},
    ],
}


def flag(api, body=FLAG, **headers):
    return api.post("/api/v1/flags", body, format="json", **headers)


@pytest.mark.django_db
class TestFlags:
    def test_flag_opens_an_incident_and_merges_the_transcript(self, api):
        response = flag(api)
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["incident"]["conversation"] == "c-9"
        assert body["incident"]["status"] == "open"
        assert body["directives"][0]["type"] == "reply_with_template"
        assert list(Message.objects.order_by("id").values_list("external_id", flat=True)) == ["m1", "m2"]
        incident = Incident.objects.get()
        assert [e.kind for e in incident.events.all()] == ["opened", "flagged"]

    def test_second_flag_merges_by_id_and_raises(self, api):
        flag(api)
        more = {**FLAG, "level": "explicit", "transcript": FLAG["transcript"] + [
            {"id": "m3", "role": "user", "text": "tonight is the night"}]}
        response = flag(api, more)
        assert response.status_code == 201
        assert response.json()["incident"]["level"] == "explicit"
        assert "hold_for_operator" in [d["type"] for d in response.json()["directives"]]
        assert Message.objects.count() == 3
        assert Incident.objects.count() == 1

    def test_console_assessment_of_the_transcript_can_raise_the_flag(self, api):
        body = {**FLAG, "level": "distress", "transcript": [
            {"id": "x", "role": "user", "text": "I am going to kill myself tonight, I have the pills ready."}]}
        assert flag(api, body).json()["incident"]["level"] == "explicit"

    def test_idempotency_key_replays(self, api):
        first = flag(api, HTTP_IDEMPOTENCY_KEY="abc")
        again = flag(api, HTTP_IDEMPOTENCY_KEY="abc")
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        assert Incident.objects.get().events.filter(kind="flagged").count() == 1
        other = flag(api, {**FLAG, "reason": "another"}, HTTP_IDEMPOTENCY_KEY="abc")
        assert other.status_code == 409
        assert other.json()["error"]["code"] == "idempotency_conflict"

    def test_new_conversation_needs_a_user(self, api):
        response = flag(api, {k: v for k, v in FLAG.items() if k != "user"})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "user_required"
        assert not Message.objects.exists()

    def test_bad_level_is_422_naming_the_field(self, api):
        response = flag(api, {**FLAG, "level": "catastrophic"})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid"
        assert "level" in response.json()["error"]["fields"]

    def test_transcript_item_errors_name_the_index(self, api):
        response = flag(api, {**FLAG, "transcript": [{"id": "m1", "role": "robot", "text": "x"}]})
        assert response.status_code == 422
        assert "transcript[0].role" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_posting_a_message_already_merged_from_a_transcript_is_a_conflict(api):
    flag(api)
    response = api.post("/api/v1/conversations/c-9/messages", {"id": "m1", "role": "user", "text": "again"},
                        format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_conflict"
    assert Message.objects.get(external_id="m1").text == FLAG["transcript"][0]["text"]
