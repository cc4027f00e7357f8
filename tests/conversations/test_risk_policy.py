"""The risk policy of docs/risk.md ("Policy"), one test per rule, through `assess` as the app runs
it (the learned model on, beside the rules) and, for the issue's own example, through the API.

These sentences are written for these tests, not taken from any corpus or held-out set. They are
the policy's clear cases: a model that fails one of them is wrong whatever its figures say.
"""
import pytest

from conversations.risk import assess, level_rank


def called(text, history=()):
    result = assess(text, history, model=True)
    return result.level, result.category


@pytest.mark.parametrize("text", [
    "I want to kill myself",
    "我想自杀",
    "i'm going to end my life",
    "我不想活了，今天就结束吧",
])
def test_first_person_intent_is_explicit(text):
    assert called(text) == ("explicit", "suicide")


@pytest.mark.parametrize("text", [
    "我已经准备好药了，今晚吃完就结束",
    "我站在天台上了",
    "I took the whole bottle of pills an hour ago",
    "i cut too deep and it won't stop bleeding",
])
def test_an_act_under_way_or_means_ready_is_explicit(text):
    assert called(text)[0] == "explicit"


@pytest.mark.parametrize("text", [
    "my friend just texted goodbye and now she won't answer her phone, she said she took pills",
    "我朋友刚说要跳楼，现在电话打不通",
])
def test_a_third_person_in_danger_now_is_explicit(text):
    """The user needs a human to help them call 110/120/911 now."""
    assert called(text)[0] == "explicit"


@pytest.mark.parametrize("text", [
    "I know where he lives. Tonight I'm going over there with the knife",
    "我要杀了他，刀已经准备好了",
])
def test_a_threat_to_kill_someone_is_explicit_violence(text):
    assert called(text) == ("explicit", "violence")


@pytest.mark.parametrize("text", [
    "警察说我的账户涉嫌洗钱，让我把钱转到安全账户，我正在去银行",
    "Someone from the bank says I must transfer my savings today to a safe account",
])
def test_a_scam_in_progress_is_high_risk_property(text):
    assert called(text) == ("high_risk", "property")


@pytest.mark.parametrize("text", [
    "this exam is killing me lol",
    "my friend said last year she wanted to die but she's better now",
    "笑死我了哈哈哈",
    "What time does the library open?",
])
def test_hyperbole_and_the_recovered_past_are_not_urgent(text):
    assert level_rank(called(text)[0]) < level_rank("high_risk")


@pytest.mark.parametrize("text", ["Goodbye.", "bye", "再见", "晚安", "see you tomorrow, goodbye", "gtg, talk later"])
def test_an_ordinary_goodbye_is_not_a_crisis(text):
    """A companion hears goodbye many times a day: taking each one over would bury the operators
    and could text a family for nothing."""
    assert level_rank(called(text)[0]) < level_rank("high_risk")


def test_a_goodbye_after_despair_is_urgent():
    """The context rule: the same goodbye after hopeless messages is read with them."""
    history = ["I cry every night", "I feel so hopeless and alone"]
    assert level_rank(called("Goodbye.", history)[0]) >= level_rank("high_risk")


@pytest.mark.django_db
def test_the_issues_example_is_explicit_violence_through_the_api(api):
    """The app's default (settings.RISK_MODEL on): a threat with a time and a weapon is taken over."""
    body = {"id": "m-1", "user": "u-1", "role": "user",
            "text": "I know where he lives. Tonight I'm going over there with the knife"}
    answer = api.post("/api/v1/conversations/c-1/messages", body, format="json").json()
    assert (answer["assessment"]["level"], answer["assessment"]["category"]) == ("explicit", "violence")
    assert "hold_for_operator" in [d["type"] for d in answer["directives"]]


@pytest.mark.django_db
def test_a_goodbye_after_a_crisis_the_model_recognised_is_urgent_through_the_api(api):
    """The context reads the levels stored for earlier messages (model, rules, flags), not the rules
    alone: the rules call "我站在天台上了" nothing, the model explicit, and the goodbye after it counts."""
    def say(message_id, text):
        body = {"id": message_id, "user": "u-1", "role": "user", "text": text}
        return api.post("/api/v1/conversations/c-1/messages", body, format="json").json()["assessment"]

    assert say("m-1", "我站在天台上了")["level"] == "explicit"
    raised = say("m-2", "Goodbye.")
    assert level_rank(raised["level"]) >= level_rank("high_risk") and raised["category"] == "suicide"
    assert say("m-3", "What time does the library open?")["level"] == "none"  # the context raises goodbyes only
