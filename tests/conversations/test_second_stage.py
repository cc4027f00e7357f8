"""The risk second stage (RISK_BACKENDS) against a local stand-in HTTP classifier, with the real
`requests` library; the end-to-end tests run a real Celery worker on the test Redis.

Nothing here sleeps for a fixed time: the stand-in signals each request it records, and waits for
rows are bounded polls.
"""
import io
import json
import logging
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.utils import timezone

from conversations import second_stage
from conversations.models import Message, RiskReview
from conversations.risk import backends
from conversations.risk.backends import BadAnswer, Failure, Moderation, Verdict, parse_label
from escalation.models import AuditEntry, Incident, IncidentEvent, WebhookEvent
from tests.support.fake_classifier import FakeClassifier
from tests.support.fixtures import point_broker_at, running_worker, wait_until
from tests.support.servers import free_port

EUPHEMISM = "the letters are on my desk for whoever finds them"  # the engine (model and rules): none
SAD = "I feel so sad and alone"  # the engine: distress
PASSIVE = "nobody would notice if I was gone"  # the engine: high_risk
EXPLICIT = "I want to kill myself tonight"  # the engine: explicit


def post(api, text, message_id="m-1", conversation="c-1", **extra):
    response = api.post(f"/api/v1/conversations/{conversation}/messages",
                        {"id": message_id, "user": "u-1", "role": "user", "text": text, **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def fake():
    with FakeClassifier() as stand_in:
        yield stand_in


@pytest.fixture
def chat(fake, settings):
    """One chat backend, the stand-in."""
    settings.RISK_BACKENDS = [fake.backend()]
    return fake


def review_of(message_external_id="m-1"):
    return RiskReview.objects.get(message__external_id=message_external_id)


def make_due(review):
    RiskReview.objects.filter(pk=review.pk).update(next_attempt_at=timezone.now())


# --- parsing and mapping -----------------------------------------------------------------------------

class TestParseLabel:
    def test_plain_fenced_and_thinking_answers_are_read(self):
        assert parse_label('{"level": "explicit", "category": "suicide"}') == Verdict("explicit", "suicide")
        assert parse_label('```json\n{"level": "high_risk", "category": "self-harm"}\n```') == \
            Verdict("high_risk", "self_harm")
        thinking = '<think>maybe {"level": "none"}</think> Answer: {"level": "distress", "category": "other"}'
        assert parse_label(thinking) == Verdict("distress", "other")

    def test_none_has_no_category_and_a_missing_category_is_other(self):
        assert parse_label('{"level": "none", "category": "suicide"}') == Verdict("none", None)
        assert parse_label('{"level": "high_risk"}') == Verdict("high_risk", "other")

    @pytest.mark.parametrize("content", [
        "I think this is fine.", "", None, "[1, 2]", '{"label": "explicit"}',
        '{"level": "severe", "category": "suicide"}', '{"level": "explicit", "category": "murder"}',
        '{"level": 3}', '{"level": "explicit", "category": 7}',
    ])
    def test_garbage_and_unknown_labels_are_failures_not_levels(self, content):
        with pytest.raises(BadAnswer):
            parse_label(content)


class TestModerationMapping:
    @pytest.mark.parametrize("flagged, expected", [
        ({"self-harm/intent": True, "self-harm": True}, Verdict("explicit", "suicide")),
        ({"self-harm/instructions": True}, Verdict("explicit", "suicide")),
        ({"self-harm": True}, Verdict("high_risk", "suicide")),
        ({"violence": True}, Verdict("high_risk", "violence")),
        ({"violence": True, "violence/graphic": True}, Verdict("high_risk", "violence")),
        ({"violence/graphic": True, "sexual": True, "harassment": True}, Verdict("none", None)),
        ({}, Verdict("none", None)),
    ])
    def test_categories_map_to_levels_violence_never_explicit(self, flagged, expected):
        assert Moderation.map_result({"flagged": bool(flagged), "categories": flagged}) == expected

    def test_a_whole_batch_is_one_request_and_a_short_answer_fails_every_item(self, fake):
        fake.flag("a", "self-harm/intent")
        fake.flag("c", "violence")
        backend = backends.build([fake.backend("moderation", model="omni-moderation-latest")])[0]
        results = backend.classify(["a", "b", "c"])
        assert [(r.level, r.category) for r in results] == [("explicit", "suicide"), ("none", None),
                                                            ("high_risk", "violence")]
        assert len(fake.requests) == 1 and fake.requests[-1].body == {"input": ["a", "b", "c"],
                                                                      "model": "omni-moderation-latest"}
        fake.behave("garbage")  # one result short
        assert all(isinstance(r, Failure) and r.error == "bad_json" for r in backend.classify(["a", "b"]))


class TestConfiguration:
    def test_bad_entries_are_refused_at_once(self):
        with pytest.raises(ImproperlyConfigured):
            backends.build([{"kind": "magic", "url": "http://x"}])
        with pytest.raises(ImproperlyConfigured):
            backends.build([{"kind": "openai_chat", "url": "http://x"}])  # no model
        with pytest.raises(ImproperlyConfigured):
            backends.build([{"kind": "moderation", "url": "ftp://x"}])
        with pytest.raises(ImproperlyConfigured):
            backends.build([{"kind": "moderation", "url": "http://x"}, {"kind": "moderation", "url": "http://y",
                                                                        "name": "moderation-0"}])

    def test_the_api_key_comes_from_the_named_variable_and_is_never_logged(self, fake, monkeypatch, caplog):
        monkeypatch.setenv("STANDIN_KEY", "sk-secret-value-123")
        backend = backends.build([fake.backend(api_key_env="STANDIN_KEY")])[0]
        fake.label(EUPHEMISM, "explicit", "suicide")
        assert backend.classify([EUPHEMISM])[0].level == "explicit"
        assert fake.requests[0].headers["Authorization"] == "Bearer sk-secret-value-123"
        body = fake.requests[0].body
        assert body["temperature"] == 0 and body["model"] == "standin-1"
        assert "explicit" in body["messages"][0]["content"] and body["messages"][0]["role"] == "system"
        caplog.set_level(logging.DEBUG)
        fake.behave("error")
        [failure] = backend.classify([EUPHEMISM])
        assert isinstance(failure, Failure) and failure.error == "http_500"
        logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
        assert "http_500" in logged, "the failure is logged, so the search below means something"
        assert "sk-secret" not in logged and "grandma" not in logged


# --- nothing without RISK_BACKENDS --------------------------------------------------------------------

@pytest.mark.django_db
def test_without_backends_no_rows_no_tasks_no_queries(api, settings, django_capture_on_commit_callbacks,
                                                      django_assert_num_queries):
    settings.RISK_BACKENDS = []
    with django_capture_on_commit_callbacks() as callbacks:
        post(api, EUPHEMISM)
        post(api, SAD, message_id="m-2")
    assert not RiskReview.objects.exists()
    assert not [c for c in callbacks if getattr(c, "func", None) is second_stage._dispatch]
    with django_assert_num_queries(0):
        assert second_stage.sweep() == 0


@pytest.mark.django_db
def test_with_backends_each_user_message_below_explicit_gets_one_review(api, chat, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        post(api, EUPHEMISM)
        post(api, EXPLICIT, message_id="m-2")  # explicit already: nothing can raise it
        api.post("/api/v1/conversations/c-1/messages", {"id": "a-1", "role": "assistant", "text": "I hear you"},
                 format="json")
    assert list(RiskReview.objects.values_list("message__external_id", "status")) == [("m-1", "pending")]
    assert [c.func for c in callbacks if getattr(c, "func", None) is second_stage._dispatch] == [second_stage._dispatch]


@pytest.mark.django_db
def test_transcript_messages_of_a_flag_get_reviews_too(api, chat):
    response = api.post("/api/v1/flags", {"conversation": "c-9", "user": "u-9", "level": "high_risk", "transcript": [
        {"id": "t-1", "role": "user", "text": EUPHEMISM}, {"id": "t-2", "role": "assistant", "text": "ok"}]},
        format="json")
    assert response.status_code == 201, response.json()
    assert list(RiskReview.objects.values_list("message__external_id", flat=True)) == ["t-1"]
    chat.label(EUPHEMISM, "explicit", "suicide")
    assert second_stage.run(review_of("t-1").pk) == 1
    assert Incident.objects.get(conversation__external_id="c-9").level == "explicit", "raised above the flag"


# --- raising, never lowering -------------------------------------------------------------------------

@pytest.mark.django_db
class TestRaise:
    def test_none_to_explicit_opens_the_incident_and_enqueues_the_webhook(self, api, chat, product):
        product.webhook_url = chat.hook_url
        product.save()
        body = post(api, EUPHEMISM)
        assert body["assessment"]["level"] == "none" and not Incident.objects.exists()
        chat.label(EUPHEMISM, "explicit", "suicide")
        assert second_stage.run(review_of().pk) == 1

        message = Message.objects.get(external_id="m-1")
        assert (message.level, message.category, message.assessment_source) == ("explicit", "suicide", "console")
        stage = message.assessment["second_stage"]
        assert stage["backend"] == "standin" and stage["previous_level"] == "none"
        assert stage["results"]["standin"]["level"] == "explicit"
        assert message.assessment["console"]["level"] == "none", "the synchronous assessment is kept"
        incident = Incident.objects.get()
        assert (incident.level, incident.category, incident.status) == ("explicit", "suicide", "open")
        assert IncidentEvent.objects.get(incident=incident, kind="opened").actor_label == "second_stage"
        review = review_of()
        assert (review.status, review.raised_to, review.attempts, review.errors) == ("done", "explicit", 1, {})
        [event] = WebhookEvent.objects.filter(type="assessment.raised")
        data = json.loads(event.body)["data"]
        assert data["conversation"] == "c-1" and data["message"] == "m-1" and data["user"] == "u-1"
        assert (data["level"], data["previous_level"], data["category"]) == ("explicit", "none", "suicide")
        assert data["incident"] == str(incident.pk) and data["source"] == "second_stage"
        assert {d["type"] for d in data["directives"]} == {"reply_with_template", "hold_for_operator"}
        audit = AuditEntry.objects.get(action="assessment.raised")
        assert audit.actor_label == "second_stage:standin" and EUPHEMISM not in json.dumps(audit.data)

    def test_distress_raised_to_high_risk_raises_the_existing_incident(self, api, chat):
        post(api, PASSIVE)  # high_risk: an incident opens
        incident = Incident.objects.get()
        post(api, SAD, message_id="m-2")
        chat.label(SAD, "explicit", "self_harm")
        second_stage.run(review_of("m-2").pk)
        incident.refresh_from_db()
        assert incident.level == "explicit" and Incident.objects.count() == 1
        raised = IncidentEvent.objects.get(incident=incident, kind="raised")
        assert raised.actor_label == "second_stage" and raised.data["message"] == "m-2"

    def test_a_lower_or_equal_opinion_changes_nothing(self, api, chat, product):
        product.webhook_url = chat.hook_url
        product.save()
        post(api, PASSIVE)  # high_risk
        chat.label(PASSIVE, "distress", "other")
        second_stage.run(review_of().pk)
        message = Message.objects.get()
        assert message.level == "high_risk" and "second_stage" not in message.assessment
        assert review_of().status == "done" and review_of().raised_to == ""
        assert review_of().results["standin"]["level"] == "distress", "what it said is kept on the review"
        assert not WebhookEvent.objects.filter(type="assessment.raised").exists()
        assert Incident.objects.get().level == "high_risk"

    def test_the_highest_backend_wins(self, api, fake, settings):
        settings.RISK_BACKENDS = [fake.backend(name="a"), fake.backend("moderation", name="b")]
        fake.label(EUPHEMISM, "high_risk", "suicide")
        fake.flag(EUPHEMISM, "self-harm/intent")
        post(api, EUPHEMISM)
        second_stage.run(review_of().pk)
        message = Message.objects.get()
        assert message.level == "explicit" and message.assessment["second_stage"]["backend"] == "b"
        assert set(review_of().results) == {"a", "b"}

    def test_reviews_are_claimed_in_batches(self, api, chat):
        for i in range(5):
            post(api, f"{EUPHEMISM} ({i})", message_id=f"m-{i}")
        chat.label(f"{EUPHEMISM} (3)", "high_risk", "suicide")
        first = review_of("m-0")
        assert second_stage.run(first.pk) == 5, "one task took every due review"
        assert len(chat.requests) == 5
        assert set(RiskReview.objects.values_list("status", flat=True)) == {"done"}
        assert second_stage.run(review_of("m-1").pk) == 0, "nothing is asked twice"
        assert Message.objects.get(external_id="m-3").level == "high_risk"

    def test_a_message_erased_meanwhile_is_skipped(self, api, chat):
        post(api, EUPHEMISM)
        review = review_of()
        token, lease, claimed = second_stage.claim(review.pk, backends.configured())
        Message.objects.all().delete()  # the user's erasure, while the backend thinks
        assert not RiskReview.objects.exists(), "the review goes with its message"
        chat.label(EUPHEMISM, "explicit", "suicide")
        answers = second_stage.ask(backends.configured(), claimed)
        assert second_stage.finish(claimed[0], answers[review.pk], ["standin"], token, lease) is None
        assert not Incident.objects.exists()


# --- failures lose nothing ---------------------------------------------------------------------------

@pytest.mark.django_db
class TestFailures:
    @pytest.mark.parametrize("behaviour, error", [("error", "http_500"), ("garbage", "bad_json"),
                                                  ("bad_label", "bad_label")])
    def test_a_failed_answer_is_retried_with_backoff_then_raises(self, api, chat, behaviour, error):
        post(api, EUPHEMISM)
        chat.label(EUPHEMISM, "explicit", "suicide")
        chat.behave([behaviour, "answer"])
        before = timezone.now()
        second_stage.run(review_of().pk)
        review = review_of()
        assert (review.status, review.attempts, review.errors) == ("pending", 1, {"standin": error})
        assert review.next_attempt_at > before and review.locked_until is None and review.queued_at is None
        assert Message.objects.get().level == "none" and not Incident.objects.exists()
        assert second_stage.run(review.pk) == 0, "not due yet"
        make_due(review)
        second_stage.run(review.pk)
        review = review_of()
        assert (review.status, review.attempts, review.raised_to, review.errors) == ("done", 2, "explicit", {})
        assert Incident.objects.get().level == "explicit"

    def test_a_timeout_is_a_failure(self, api, fake, settings):
        settings.RISK_BACKENDS = [fake.backend(timeout=0.3)]
        fake.behave("hang")
        post(api, EUPHEMISM)
        second_stage.run(review_of().pk)
        assert review_of().errors == {"standin": "ReadTimeout"} and review_of().status == "pending"
        assert Message.objects.get().level == "none"

    def test_an_unreachable_backend_is_a_failure(self, api, settings):
        settings.RISK_BACKENDS = [{"kind": "openai_chat", "name": "gone", "model": "m",
                                   "url": f"http://127.0.0.1:{free_port()}/v1", "connect_timeout": 1}]
        post(api, EUPHEMISM)
        second_stage.run(review_of().pk)
        assert review_of().errors == {"gone": "ConnectionError"}

    def test_after_max_attempts_the_review_fails_and_the_synchronous_level_stands(self, api, chat, caplog):
        chat.behave("error")
        post(api, SAD)
        caplog.set_level(logging.WARNING)
        for attempt in range(1, second_stage.MAX_ATTEMPTS + 1):
            make_due(review_of())
            assert second_stage.run(review_of().pk) == 1
            assert review_of().attempts == attempt
        review = review_of()
        assert review.status == "failed" and review.finished_at is not None and review.errors == {"standin": "http_500"}
        make_due(review)
        assert second_stage.run(review.pk) == 0, "given up: never asked again"
        assert len(chat.requests) == second_stage.MAX_ATTEMPTS
        message = Message.objects.get()
        assert message.level == "distress" and "second_stage" not in message.assessment
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "gave up" in logged and SAD not in logged

    def test_one_backend_failing_does_not_hold_back_the_other(self, api, fake, settings):
        settings.RISK_BACKENDS = [fake.backend(name="a"), {"kind": "openai_chat", "name": "down", "model": "m",
                                                           "url": f"http://127.0.0.1:{free_port()}/v1"}]
        fake.label(EUPHEMISM, "explicit", "suicide")
        post(api, EUPHEMISM)
        second_stage.run(review_of().pk)
        review = review_of()
        assert review.raised_to == "explicit" and review.status == "pending", "raised now, the other asked again"
        assert Message.objects.get().level == "explicit"
        make_due(review)
        second_stage.run(review.pk)
        assert len([r for r in fake.requests if r.path.endswith("/chat/completions")]) == 1, "a is not asked again"

    def test_a_worker_killed_mid_review_leaves_it_to_the_sweep(self, api, chat, settings):
        post(api, EUPHEMISM)
        # What a worker killed after claiming leaves: a lease that ran out, its broker message gone.
        RiskReview.objects.update(claim="dead", locked_until=timezone.now() - timedelta(seconds=1), queued_at=None,
                                  attempts=1)
        queued = []
        original = second_stage._queue
        second_stage._queue = lambda ids: queued.extend(ids) or list(ids)
        try:
            assert second_stage.sweep() == 1
            assert second_stage.sweep() == 0, "waiting in the queue: not queued twice"
        finally:
            second_stage._queue = original
        chat.label(EUPHEMISM, "high_risk", "suicide")
        assert second_stage.run(queued[0]) == 1
        assert review_of().attempts == 2 and Message.objects.get().level == "high_risk"


# --- through a real worker ---------------------------------------------------------------------------

pytest_worker = pytest.mark.django_db(transaction=True)


@pytest_worker
def test_through_the_worker_a_raise_reaches_the_product_webhook(api, chat, product, worker, settings):
    product.webhook_url = chat.hook_url
    product.save()
    chat.label(EUPHEMISM, "explicit", "suicide")
    assert post(api, EUPHEMISM)["assessment"]["level"] == "none"
    hooks = chat.wait_for(lambda hooks: any(h.body.get("type") == "assessment.raised" for h in hooks), hooks=True)
    hook = next(h for h in hooks if h.body.get("type") == "assessment.raised")
    assert hook.body["data"]["level"] == "explicit" and hook.body["data"]["message"] == "m-1"
    assert wait_until(lambda: Incident.objects.filter(level="explicit").exists())
    assert Message.objects.get().level == "explicit"


@pytest_worker
def test_a_lost_dispatch_is_recovered_by_the_sweep(api, chat, redis_settings):
    point_broker_at(f"redis://127.0.0.1:{free_port()}/0")  # Redis is down when the message comes
    chat.label(EUPHEMISM, "explicit", "suicide")
    post(api, EUPHEMISM)
    review = review_of()
    assert review.status == "pending" and review.queued_at is None, "the row waits for the sweep"
    assert second_stage.sweep() == 0, "still down: nothing queued, nothing lost"
    assert RiskReview.objects.get().queued_at is None

    point_broker_at(redis_settings.url)  # Redis is back
    assert second_stage.sweep() == 1
    assert second_stage.sweep() == 0, "waiting in the queue: not queued twice"
    with running_worker():
        assert wait_until(lambda: RiskReview.objects.get().status == "done")
    assert Message.objects.get().level == "explicit"
    assert Incident.objects.get().level == "explicit"
    assert len(chat.requests) == 1


@pytest_worker
def test_the_console_is_told(api, chat, monkeypatch):
    from escalation import live

    frames = []
    monkeypatch.setattr(live, "send_to_groups", lambda groups, frame: frames.append(frame))
    post(api, PASSIVE)  # high_risk: an incident the console shows
    frames.clear()
    post(api, SAD, message_id="m-2")
    chat.label(SAD, "explicit", "suicide")
    second_stage.run(review_of("m-2").pk)
    kinds = [f["type"] for f in frames]
    assert "incident.updated" in kinds and "message.updated" in kinds
    updated = next(f for f in frames if f["type"] == "message.updated")
    assert updated["message"]["id"] == "m-2" and updated["message"]["level"] == "explicit"
    assert next(f for f in frames if f["type"] == "incident.updated")["incident"]["level"] == "explicit"


# --- manage.py assess_risk --backends ----------------------------------------------------------------

def assess_lines(*lines, **options):
    out, err = io.StringIO(), io.StringIO()
    stdin = io.StringIO("\n".join(json.dumps(line) for line in lines) + "\n")
    call_command("assess_risk", stdin=stdin, stdout=out, stderr=err, **options)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_assess_risk_includes_the_backends_only_when_asked(chat):
    chat.label(EUPHEMISM, "explicit", "suicide")
    lines = [{"id": 1, "text": EUPHEMISM}, {"id": 2, "text": PASSIVE}, {"id": 3, "text": "hello"},
             {"id": 4, "text": EXPLICIT}]
    without, _ = assess_lines(*lines, rules_only=True)
    assert [r["level"] for r in without] == ["none", "high_risk", "none", "explicit"] and not chat.requests
    rows, _ = assess_lines(*lines, rules_only=True, backends=True, signals=True)
    assert [(r["id"], r["level"]) for r in rows] == [(1, "explicit"), (2, "high_risk"), (3, "none"), (4, "explicit")]
    assert rows[0]["category"] == "suicide" and "stage2:standin:explicit" in rows[0]["signals"]
    assert sorted(r.text for r in chat.requests) == sorted([EUPHEMISM, PASSIVE, "hello"]), "explicit lines are not asked (nothing can raise them); the rest are"


def test_assess_risk_with_a_failing_backend_keeps_the_synchronous_level(chat):
    chat.behave("error")
    rows, err = assess_lines({"id": 1, "text": PASSIVE}, {"id": 2, "text": "not json"}, rules_only=True,
                             backends=True)
    assert rows[0]["level"] == "high_risk" and rows[0]["backend_errors"] == {"standin": "http_500"}
    assert "standin" in err


def test_assess_risk_backends_and_sync_only_exclude_each_other(chat):
    from django.core.management.base import CommandError

    with pytest.raises((CommandError, SystemExit)):
        assess_lines({"id": 1, "text": "x"}, backends=True, sync_only=True)


def test_reviews_have_a_queue_of_their_own():
    """A slow classifier holds the risk worker's processes, never the default queue's (webhooks, the
    emergency-contact chain): the review task is routed to its own queue, the rest are not."""
    from escalation.celery import app

    def queue_of(task):
        return app.amqp.router.route({}, task)["queue"].name

    assert queue_of("conversations.tasks.review_risk") == "risk"
    assert queue_of("conversations.tasks.sweep_risk_reviews") == "celery"
    assert queue_of("escalation.tasks.deliver_webhook") == "celery"
    assert queue_of("contacts.tasks.sweep_notifications") == "celery"
