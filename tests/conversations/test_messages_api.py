from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Conversation, Message
from escalation.models import Incident
from tests.conftest import client_for
from tests.support.concurrency import at_once

EXPLICIT_EN = "I am going to kill myself tonight, I have the pills ready."


def post(api, conversation="c-1", **body):
    body.setdefault("id", "m-1")
    body.setdefault("role", "user")
    body.setdefault("text", "hello there")
    if conversation == "c-1":
        body.setdefault("user", "u-1")
    return api.post(f"/api/v1/conversations/{conversation}/messages", body, format="json")


def directive_types(response):
    return [d["type"] for d in response.json()["directives"]]


@pytest.mark.django_db
class TestPostMessage:
    def test_benign_message_is_stored_with_no_directives(self, api):
        response = post(api, text="Can you recommend a good book?")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["message"]["id"] == "m-1" and body["message"]["role"] == "user"
        assert body["assessment"] == {"level": "none", "category": None, "source": "console"}
        assert body["conversation"] == {"id": "c-1", "mode": "ai", "continuous_use_minutes": 0}
        assert body["directives"] == []
        assert Message.objects.get().text == "Can you recommend a good book?"

    def test_first_message_needs_a_user(self, api):
        response = api.post("/api/v1/conversations/new/messages", {"id": "m", "role": "user", "text": "hi"},
                            format="json")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "user_required"
        assert not Conversation.objects.exists()

    def test_later_messages_need_no_user_but_a_wrong_one_is_refused(self, api):
        post(api)
        assert post(api, conversation="c-1", id="m-2", user="u-1").status_code == 201
        response = api.post("/api/v1/conversations/c-1/messages", {"id": "m-3", "role": "user", "text": "x"},
                            format="json")
        assert response.status_code == 201
        response = post(api, id="m-4", user="someone-else")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "user_mismatch"

    def test_console_recognises_an_explicit_statement_without_a_product_flag(self, api):
        response = post(api, text=EXPLICIT_EN)
        assert response.status_code == 201
        body = response.json()
        assert body["assessment"]["level"] == "explicit"
        assert body["assessment"]["source"] == "console"
        assert directive_types(response) == ["reply_with_template", "hold_for_operator"]
        incident = Incident.objects.get()
        assert body["directives"][1]["incident"] == str(incident.pk)
        assert incident.level == "explicit" and incident.status == "open"
        assert [e.kind for e in incident.events.all()] == ["opened"]

    def test_product_flag_raises_the_level_and_is_recorded(self, api):
        flag = {"level": "high_risk", "category": "self_harm", "reason": "classifier score 0.93"}
        response = post(api, text="whatever", flag=flag)
        body = response.json()
        assert body["assessment"] == {"level": "high_risk", "category": "self_harm", "source": "product"}
        reply = body["directives"][0]
        assert directive_types(response) == ["reply_with_template"]
        assert reply["text"] and reply["resources"], "a high-risk reply carries hotlines"
        message = Message.objects.get()
        assert message.assessment["product"] == flag
        assert message.assessment["console"]["level"] == "none"
        assert Incident.objects.get().reason == "classifier score 0.93"

    def test_a_lower_product_flag_never_lowers_the_console(self, api):
        response = post(api, text=EXPLICIT_EN, flag={"level": "distress"})
        assert response.json()["assessment"]["level"] == "explicit"
        assert response.json()["assessment"]["source"] == "console"

    def test_distress_gets_a_comforting_reply_and_no_incident(self, api):
        response = post(api, text="x", flag={"level": "distress", "category": "other"})
        assert directive_types(response) == ["reply_with_template"]
        assert not Incident.objects.exists()

    def test_hotlines_follow_region_and_templates_follow_locale(self, api):
        api.put("/api/v1/users/u-1", {"locale": "zh-CN", "region": "CN"}, format="json")
        response = post(api, text="x", flag={"level": "high_risk"})
        reply = response.json()["directives"][0]
        assert "12356" in [r["phone"] for r in reply["resources"]]
        assert "热线" in reply["text"]
        api.put("/api/v1/users/u-2", {"locale": "en-US", "region": "US"}, format="json")
        response = post(api, conversation="c-2", id="m-1", user="u-2", text="x", flag={"level": "high_risk"})
        reply = response.json()["directives"][0]
        assert [r["phone"] for r in reply["resources"]] == ["988"]
        assert "pain" in reply["text"]

    def test_incident_is_raised_not_duplicated(self, api):
        post(api, id="m-1", text="x", flag={"level": "high_risk"})
        post(api, id="m-2", text="x", flag={"level": "explicit", "category": "suicide"})
        incident = Incident.objects.get()
        assert incident.level == "explicit" and incident.category == "suicide"
        assert [e.kind for e in incident.events.all()] == ["opened", "raised"]

    def test_human_mode_holds_every_user_message_and_refuses_the_ai(self, api):
        post(api)
        Conversation.objects.update(mode="human")
        response = post(api, id="m-2", text="are you there?")
        assert response.status_code == 201
        assert directive_types(response) == ["hold_for_operator"]
        response = post(api, id="m-3", role="assistant", text="I am the AI")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "human_in_control"
        assert not Message.objects.filter(external_id="m-3").exists()

    def test_assistant_messages_are_stored_without_directives(self, api):
        post(api)
        response = post(api, id="m-2", role="assistant", text="I'm here for you.")
        assert response.status_code == 201
        assert response.json()["directives"] == []
        assert response.json()["message"]["role"] == "assistant"

    def test_sent_at_in_the_future_is_refused(self, api):
        response = post(api, sent_at=(timezone.now() + timedelta(days=1)).isoformat())
        assert response.status_code == 422
        assert "sent_at" in response.json()["error"]["fields"]


@pytest.mark.django_db
class TestContinuousUse:
    def test_break_suggested_at_two_hours_and_again_two_hours_later(self, api):
        start = timezone.now() - timedelta(hours=5)
        seen = []
        for minute in range(0, 241, 10):  # a message every 10 minutes for 4 hours
            sent_at = (start + timedelta(minutes=minute)).isoformat()
            response = post(api, id=f"m-{minute}", text="tell me more", sent_at=sent_at)
            if "suggest_break" in directive_types(response):
                seen.append(response.json()["conversation"]["continuous_use_minutes"])
        assert seen == [120, 240]

    def test_a_fifteen_minute_gap_ends_the_stretch(self, api):
        start = timezone.now() - timedelta(hours=5)
        post(api, id="a", sent_at=start.isoformat())
        response = post(api, id="b", sent_at=(start + timedelta(minutes=14)).isoformat())
        assert response.json()["conversation"]["continuous_use_minutes"] == 14
        response = post(api, id="c", sent_at=(start + timedelta(minutes=29)).isoformat())
        assert response.json()["conversation"]["continuous_use_minutes"] == 0


@pytest.mark.django_db
class TestIdempotency:
    def test_same_id_and_body_replays_the_first_answer(self, api):
        first = post(api, text=EXPLICIT_EN)
        again = post(api, text=EXPLICIT_EN)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        assert Message.objects.count() == 1 and Incident.objects.count() == 1

    def test_same_id_with_another_body_is_a_conflict(self, api):
        post(api, text="first")
        response = post(api, text="second")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "idempotency_conflict"
        assert Message.objects.get().text == "first"

    def test_same_message_id_in_another_conversation_is_another_message(self, api):
        post(api)
        assert post(api, conversation="c-2", user="u-1").status_code == 201
        assert Message.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_identical_posts_at_once_store_one_message(api_key):
    clients = [client_for(api_key) for _ in range(2)]
    results = at_once(*(lambda client=client: post(client, text=EXPLICIT_EN) for client in clients))
    assert sorted(r.status_code for r in results) == [200, 201]
    assert results[0].json() == results[1].json()
    assert Message.objects.count() == 1
    assert Incident.objects.count() == 1


@pytest.mark.django_db
class TestReadingBack:
    def test_conversation_shows_mode_incident_and_use(self, api):
        post(api, text=EXPLICIT_EN)
        body = api.get("/api/v1/conversations/c-1").json()
        assert body["mode"] == "ai" and body["user"] == "u-1"
        assert body["incident"]["level"] == "explicit" and body["incident"]["status"] == "open"

    def test_messages_page_with_a_cursor(self, api):
        for n in range(5):
            post(api, id=f"m-{n}", text=f"message {n}")
        Message.objects.create(conversation=Conversation.objects.get(), external_id="op-1", role="operator",
                               text="Hi, I'm Sam from the safety team.", sent_at=timezone.now())
        first = api.get("/api/v1/conversations/c-1/messages?limit=4").json()
        assert [m["id"] for m in first["messages"]] == ["m-0", "m-1", "m-2", "m-3"]
        rest = api.get(f"/api/v1/conversations/c-1/messages?limit=4&after={first['next']}").json()
        assert [m["id"] for m in rest["messages"]] == ["m-4", "op-1"]
        assert rest["messages"][1]["role"] == "operator"
        assert rest["next"] is None

    def test_bad_cursor_is_422(self, api):
        post(api)
        response = api.get("/api/v1/conversations/c-1/messages?after=abc")
        assert response.status_code == 422

    def test_another_products_conversation_is_404(self, api, other_api):
        post(api, text=EXPLICIT_EN)
        incident = Incident.objects.get()
        assert other_api.get("/api/v1/conversations/c-1").status_code == 404
        assert other_api.get("/api/v1/conversations/c-1/messages").status_code == 404
        assert other_api.get(f"/api/v1/incidents/{incident.pk}").status_code == 404
        # B posting into "c-1" makes B's own conversation; A's is untouched.
        assert post(other_api, user="u-1", text="hi").status_code == 201
        assert Conversation.objects.filter(external_id="c-1").count() == 2

    def test_incident_with_timeline(self, api):
        post(api, text=EXPLICIT_EN)
        incident = Incident.objects.get()
        body = api.get(f"/api/v1/incidents/{incident.pk}").json()
        assert body["id"] == str(incident.pk) and body["status"] == "open"
        assert [e["kind"] for e in body["timeline"]] == ["opened"]
        assert body["timeline"][0]["actor"] == "console"
