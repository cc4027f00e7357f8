"""The message hot path stays cheap: pinned query counts, the API-key cache and how it forgets.

Performance figures are in docs/performance.md (`make bench`); these are the behaviours the
optimisations rely on, not timings."""
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations import auth, usage
from contacts.models import EndUser
from conversations.models import ApiKey, Message, UsageDay
from escalation.regions import region_rules
from escalation.models import Incident

# A benign user message in a conversation that already exists, without an incident: whether the
# API key is still live (one indexed SELECT: a revocation is immediate in every process), BEGIN, the
# conversation (with its active incident's id), its end user, the message, the end user's usage
# clock, the stored answer, COMMIT. Not read: the API key's row and product (cached), the stored answer (a retry is
# recognised when it fails to store the message again), the engine's context (no concept a context
# rule reads) and the week's usage (nothing the dependence level reads changed). Not written: an
# audit entry (only assessments that found something), the day's usage (nothing it counts changed)
# and the conversation's last_message_at (kept to the minute).
BENIGN_QUERIES = 8


def post(api, message_id, conversation="c-1", text="Can you recommend a good book?", **extra):
    return api.post(f"/api/v1/conversations/{conversation}/messages",
                    {"id": message_id, "user": "u-1", "role": "user", "text": text, **extra}, format="json")


LIVE_CHECK = 'SELECT 1 FROM conversations_apikey'


def key_queries(context):
    """The statements that read the API key, by their start (the live check is plain SQL)."""
    return [q["sql"][:len(LIVE_CHECK)] for q in context.captured_queries if "conversations_apikey" in q["sql"]]


def sqls(context):
    return "\n".join(q["sql"][:160] for q in context.captured_queries)


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    yield


@pytest.fixture
def daytime(monkeypatch):
    """Messages counted as daytime, whatever the hour the suite runs at (late-night use is a
    dependence signal, which makes the level be read again)."""
    monkeypatch.setattr(usage, "LATE_NIGHT_HOURS", range(0))


@pytest.mark.django_db
@pytest.mark.usefixtures("daytime")
class TestQueryCounts:
    def test_a_benign_message_takes_a_pinned_number_of_queries(self, api):
        assert post(api, "m-1").status_code == 201  # creates the conversation, user, usage day; caches the key
        with CaptureQueriesContext(connection) as context:
            assert post(api, "m-2").status_code == 201
        assert len(context) == BENIGN_QUERIES, sqls(context)
        assert key_queries(context) == [LIVE_CHECK]

    def test_the_count_does_not_grow_with_the_conversation(self, api):
        for i in range(15):
            post(api, f"m-{i}")
        with CaptureQueriesContext(connection) as context:
            assert post(api, "m-last").status_code == 201
        assert len(context) == BENIGN_QUERIES, sqls(context)

    def test_a_message_in_a_conversation_with_an_incident_reads_the_incident(self, api):
        post(api, "m-1", flag={"level": "high_risk"})
        with CaptureQueriesContext(connection) as context:
            assert post(api, "m-2").status_code == 201
        # One more: the incident itself (the conversation's query only gave its id).
        assert len(context) == BENIGN_QUERIES + 1, sqls(context)

    def test_the_conversation_query_uses_the_indexes(self, api, product):
        from conversations.services import _conversation_sql

        post(api, "m-1")
        if connection.vendor != "sqlite":
            pytest.skip("the plan is SQLite's; PostgreSQL chooses by statistics")
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + _conversation_sql(False), [product.pk, "c-1"])
            plan = " / ".join(row[-1] for row in cursor.fetchall())
        assert "SEARCH c USING INDEX" in plan and "USING INDEX one_active_incident_per_conversation" in plan, plan

    def test_the_conversation_comes_with_its_user_and_active_incident(self, api, product):
        from conversations.services import find_conversation

        post(api, "m-1")
        found = find_conversation(product, "c-1")
        assert found.active_incident_pk is None and found.end_user.external_id == "u-1"
        post(api, "m-2", flag={"level": "high_risk"})
        incident = Incident.objects.get()
        assert find_conversation(product, "c-1").active_incident_pk == incident.pk
        Incident.objects.filter(pk=incident.pk).update(status="resolved")
        assert find_conversation(product, "c-1").active_incident_pk is None
        assert find_conversation(product, "c-nope") is None

    def test_a_replay_is_answered_from_the_stored_answer(self, api):
        first = post(api, "m-1").json()
        with CaptureQueriesContext(connection) as context:
            again = post(api, "m-1")
        assert again.status_code == 200 and again.json() == first
        # It gets as far as storing the message again, rolls back, and reads the stored answer.
        assert len(context) <= 8, sqls(context)
        assert key_queries(context) == [LIVE_CHECK]
        assert Message.objects.count() == 1

    def test_context_is_read_only_for_a_message_a_context_rule_could_raise(self, api):
        post(api, "m-1", text="I've been crying all day, I feel so alone.")
        post(api, "m-2", text="Nobody cares about me, I'm so hopeless.")
        with CaptureQueriesContext(connection) as context:
            response = post(api, "m-3", text="Anyway. Goodbye.")
        assert response.status_code == 201 and response.json()["assessment"]["level"] == "high_risk"
        assert 'SELECT "conversations_message"."level" AS "level", "conversations_message"."category"' in sqls(context)  # the stored levels

    @pytest.mark.parametrize("why", ["late_night", "dependence_phrase", "first_of_the_day"])
    def test_the_week_is_read_again_when_the_dependence_level_could_change(self, api, monkeypatch, why):
        now = timezone.now()
        post(api, "m-1", sent_at=(now - timedelta(hours=2)).isoformat())
        text = "Can you recommend a good book?"
        if why == "late_night":  # this hour is late at night, the previous message's was not
            local = timezone.localtime(now, ZoneInfo(region_rules(EndUser.objects.get().region)["timezone"]))
            monkeypatch.setattr(usage, "LATE_NIGHT_HOURS", range(local.hour, local.hour + 1))
        elif why == "dependence_phrase":
            text = "You are my only friend, I can't live without you talking to me"
        else:
            EndUser.objects.update(usage_last_at=timezone.now() - timedelta(days=1))
        with CaptureQueriesContext(connection) as context:
            assert post(api, "m-2", text=text).status_code == 201
        assert any('FROM "conversations_usageday"' in q["sql"] and q["sql"].startswith("SELECT")
                   for q in context.captured_queries), sqls(context)

    def test_minutes_are_counted_however_often_the_user_writes(self, api):
        midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
        if timezone.now() - midnight < timedelta(minutes=10):
            midnight -= timedelta(days=1)
        start = midnight - timedelta(minutes=5)  # across midnight (UTC, the user's day): two days
        for second in range(0, 10 * 60 + 1, 20):  # a message every 20 s for 10 minutes
            post(api, f"m-{second}", sent_at=(start + timedelta(seconds=second)).isoformat())
        # Each message's share rounds down to 0 minutes, yet the ten minutes are all counted, each
        # on the day of the message that ended it.
        minutes = list(UsageDay.objects.values_list("minutes", flat=True))
        assert len(minutes) == 2 and sum(minutes) == 10

    def test_a_night_of_messages_is_one_late_night(self, api, monkeypatch):
        monkeypatch.setattr(usage, "LATE_NIGHT_HOURS", range(24))
        for i in range(3):
            post(api, f"m-{i}")
        assert UsageDay.objects.get().late_night_messages == 1  # the level asks only whether there was one

    def test_last_message_at_is_kept_to_the_minute(self, api):
        start = timezone.now() - timedelta(hours=1)
        from conversations.models import Conversation

        post(api, "m-1")
        first = Conversation.objects.get().last_message_at
        post(api, "m-2")
        assert Conversation.objects.get().last_message_at == first
        Conversation.objects.update(last_message_at=start)
        post(api, "m-3")
        assert Conversation.objects.get().last_message_at > first


@pytest.mark.django_db
class TestApiKeyCache:
    def test_the_key_is_looked_up_once_and_its_revocation_every_time(self, api):
        post(api, "m-1")
        with CaptureQueriesContext(connection) as context:
            post(api, "m-2")
        assert key_queries(context) == [LIVE_CHECK]

    def test_unknown_keys_are_not_cached(self, client):
        for _ in range(2):
            with CaptureQueriesContext(connection) as context:
                response = client.get("/api/v1/users/u-1", HTTP_AUTHORIZATION="Bearer ek_nope")
            assert response.status_code == 401
            assert any("conversations_apikey" in q["sql"] for q in context.captured_queries)

    def test_a_key_revoked_with_save_stops_working_at_once(self, api, product):
        assert post(api, "m-1").status_code == 201
        key = ApiKey.objects.get(product=product)
        key.revoked_at = timezone.now()
        key.save()  # what the admin does
        assert post(api, "m-2").status_code == 401

    def test_a_deleted_key_stops_working_at_once(self, api, product):
        assert post(api, "m-1").status_code == 201
        ApiKey.objects.get(product=product).delete()
        assert post(api, "m-2").status_code == 401

    def test_a_key_revoked_behind_the_cache_stops_at_once(self, api):
        assert post(api, "m-1").status_code == 201
        ApiKey.objects.update(revoked_at=timezone.now())  # no signal: the cached entry stays
        assert auth.cache.get(auth._cache_key(ApiKey.objects.get().hashed_key)) is not None
        assert post(api, "m-2").status_code == 401

    def test_a_key_revoked_for_later_works_until_then(self, api, product):
        key = ApiKey.objects.get(product=product)
        key.revoked_at = timezone.now() + timedelta(seconds=1)
        key.save()
        assert post(api, "m-1").status_code == 201
        import time

        time.sleep(1.1)
        assert post(api, "m-2").status_code == 401  # the stored revoked_at is checked every time

    def test_a_saved_product_is_read_again(self, api, product):
        post(api, "m-1")
        product.webhook_url = "https://hooks.example/escalation"
        product.save()
        cached = auth.lookup_key(ApiKey.objects.get(product=product).hashed_key)
        assert cached.product.webhook_url == "https://hooks.example/escalation"

    def test_two_products_keys_stay_apart(self, api, other_api):
        post(api, "m-1")
        assert other_api.get("/api/v1/conversations/c-1").status_code == 404
        assert api.get("/api/v1/conversations/c-1").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_explicit_incident_sets_a_timer_for_its_auto_notify_deadline(api, redis_settings, settings, monkeypatch):
    from contacts.tasks import sweep_notifications

    settings.ESCALATION_AUTO_NOTIFY_SECONDS = 120
    calls = []
    monkeypatch.setattr(sweep_notifications, "apply_async", lambda *a, **kw: calls.append(kw))
    post(api, "m-1", text="x", flag={"level": "high_risk"})
    assert calls == []  # not explicit: no auto-notify, no timer
    post(api, "m-2", text="x", flag={"level": "explicit"})  # raised to explicit
    post(api, "m-3", conversation="c-2", text="x", flag={"level": "explicit"})  # opened explicit
    assert len(calls) == 2
    incident = Incident.objects.get(conversation__external_id="c-2")
    assert 119 < calls[1]["countdown"] <= 120.5 and incident.level == "explicit"
