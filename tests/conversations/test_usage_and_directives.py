"""Continuous use across conversations, AI-identity notices, dependence, template selection, referrals."""
from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import EndUser
from conversations.directives import hotlines, template_text
from conversations.models import Hotline, HotlineReferral, ReplyTemplate


def post(api, conversation, message_id, text="tell me more", user="u-1", **extra):
    body = {"id": message_id, "user": user, "role": "user", "text": text, **extra}
    response = api.post(f"/api/v1/conversations/{conversation}/messages", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def types(body):
    return [d["type"] for d in body["directives"]]


@pytest.mark.django_db
class TestContinuousUseAcrossConversations:
    def test_the_clock_is_per_user_not_per_conversation(self, api):
        start = timezone.now() - timedelta(hours=3)
        for n, minute in enumerate(range(0, 121, 10)):  # alternate between two conversations
            body = post(api, f"c-{n % 2}", f"m-{n}", sent_at=(start + timedelta(minutes=minute)).isoformat())
        assert body["conversation"]["continuous_use_minutes"] == 120
        assert "suggest_break" in types(body)

    def test_another_user_has_their_own_clock(self, api):
        start = timezone.now() - timedelta(hours=3)
        post(api, "c-1", "a", sent_at=start.isoformat())
        body = post(api, "c-2", "b", user="u-2", sent_at=(start + timedelta(minutes=10)).isoformat())
        assert body["conversation"]["continuous_use_minutes"] == 0


@pytest.mark.django_db
def test_us_users_are_reminded_every_three_hours_that_they_talk_to_an_ai(api):
    api.put("/api/v1/users/u-1", {"region": "US", "locale": "en"}, format="json")
    start = timezone.now() - timedelta(hours=7)
    notices = []
    for minute in range(0, 361, 10):
        body = post(api, "c-1", f"m-{minute}", sent_at=(start + timedelta(minutes=minute)).isoformat())
        if "remind_ai_identity" in types(body):
            notices.append(minute)
            assert "AI" in body["directives"][-1]["text"] or "AI" in body["directives"][0]["text"]
    assert notices == [180, 360]


@pytest.mark.django_db
def test_cn_users_get_no_ai_identity_notice(api):
    api.put("/api/v1/users/u-1", {"region": "CN", "locale": "zh-CN"}, format="json")
    start = timezone.now() - timedelta(hours=4)
    seen = set()
    for minute in range(0, 181, 10):
        seen.update(types(post(api, "c-1", f"m-{minute}", sent_at=(start + timedelta(minutes=minute)).isoformat())))
    assert "remind_ai_identity" not in seen and "suggest_break" in seen


@pytest.mark.django_db
def test_dependence_rises_with_phrases_and_late_nights_and_reminds_once_a_day(api):
    api.put("/api/v1/users/u-1", {"region": "CN", "locale": "zh-CN"}, format="json")
    # Three late nights (01:00 Beijing time = 17:00 UTC the day before), each with a dependence phrase.
    now = timezone.now()
    reminders = []
    for day in (3, 2, 1):
        at = (now - timedelta(days=day)).replace(hour=17, minute=0, second=0, microsecond=0)
        body = post(api, "c-1", f"d-{day}", text="你是我唯一的朋友，我离不开你", sent_at=at.isoformat())
        reminders.append("dependence_reminder" in types(body))
    user = EndUser.objects.get()
    assert user.dependence_level == "high"
    assert reminders == [False, False, True]
    assert api.get("/api/v1/users/u-1").json()["dependence_level"] == "high"
    body = post(api, "c-1", "d-again", text="你是我唯一的朋友", sent_at=(at + timedelta(minutes=5)).isoformat())
    assert "dependence_reminder" not in types(body), "at most one reminder a day"


@pytest.mark.django_db
def test_ordinary_use_has_no_dependence(api):
    post(api, "c-1", "m-1", text="what's the weather like in Paris?")
    assert EndUser.objects.get().dependence_level == "none"


@pytest.mark.django_db
class TestTemplates:
    def test_locale_then_language_then_english(self):
        assert "热线" in template_text("reply", "high_risk", "zh-TW", "TW")  # same language
        assert "pain" in template_text("reply", "high_risk", "fr-FR", "FR")  # English fallback
        ReplyTemplate.objects.create(kind="reply", level="high_risk", locale="zh-TW", text="請撥打熱線")
        assert template_text("reply", "high_risk", "zh-TW", "TW") == "請撥打熱線"

    def test_a_regional_template_wins_in_its_region_only(self):
        ReplyTemplate.objects.create(kind="reply", level="distress", locale="en", region="GB", text="UK text")
        assert template_text("reply", "distress", "en", "GB") == "UK text"
        assert template_text("reply", "distress", "en", "US") != "UK text"

    def test_inactive_templates_are_skipped_and_any_language_is_the_last_resort(self):
        ReplyTemplate.objects.filter(kind="reply", level="distress", locale="en").update(active=False)
        assert "心疼" in template_text("reply", "distress", "en-US", "US")
        ReplyTemplate.objects.filter(kind="reply", level="distress").update(active=False)
        assert template_text("reply", "distress", "en-US", "US") == ""

    def test_hotlines_by_region_with_language_fallback(self):
        assert [h["phone"] for h in hotlines("US", "en")] == ["988"]
        assert hotlines("CN", "zh-CN")[0]["phone"] == "12356"
        assert hotlines("", "zh-CN")[0]["phone"] == "12356"  # no region: the language decides
        assert [h["phone"] for h in hotlines("FR", "en")] == ["988"]  # no hotline there yet
        Hotline.objects.create(region="FR", name="3114", phone="3114")
        assert [h["phone"] for h in hotlines("FR", "fr")] == ["3114"]

    def test_no_template_mentions_methods_or_commit(self):
        for text in ReplyTemplate.objects.values_list("text", flat=True):
            lowered = text.lower()
            assert "commit" not in lowered and "pills" not in lowered and "自杀方法" not in text


@pytest.mark.django_db
def test_every_template_reply_with_a_hotline_is_counted(api):
    post(api, "c-1", "m-1", text="x", flag={"level": "high_risk"})
    post(api, "c-1", "m-2", text="hello")
    post(api, "c-1", "m-3", text="x", flag={"level": "distress"})
    api.post("/api/v1/flags", {"conversation": "c-1", "level": "high_risk"}, format="json")
    assert HotlineReferral.objects.count() == 3
    assert sorted(HotlineReferral.objects.values_list("level", flat=True)) == ["distress", "high_risk", "high_risk"]


@pytest.mark.django_db
class TestReplyInTheMessagesLanguage:
    """Issue 13, point 7: a user registered without a locale is answered in the language they write."""

    def reply(self, body):
        return next(d for d in body["directives"] if d["type"] == "reply_with_template")

    def test_a_chinese_message_from_a_user_with_no_locale_gets_a_chinese_reply(self, api):
        assert api.put("/api/v1/users/u-1", {"region": "CN"}, format="json").status_code == 200
        reply = self.reply(post(api, "c-1", "m-1", text="我真的撑不下去了，活着好累"))
        assert any("\u4e00" <= ch <= "\u9fff" for ch in reply["text"]), reply["text"]
        assert any(h["phone"] == "12356" for h in reply["resources"])

    def test_an_english_message_gets_an_english_reply_and_a_set_locale_wins(self, api):
        assert api.put("/api/v1/users/u-1", {"region": "CN"}, format="json").status_code == 200
        reply = self.reply(post(api, "c-1", "m-1", text="I can't go on like this, I feel so hopeless"))
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in reply["text"]), reply["text"]
        assert api.put("/api/v1/users/u-2", {"region": "CN", "locale": "en"}, format="json").status_code == 200
        reply = self.reply(post(api, "c-2", "m-1", user="u-2", text="我真的撑不下去了，活着好累"))
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in reply["text"]), reply["text"]
