"""The risk engine's feedback loop (issue 13, point 5): operators propose labels in the console,
supervisors confirm them, `export_risk_feedback` writes the confirmed labels of consenting users
for the trainer (final Measures Art. 16: never a user without consent, nothing of an erased user)."""
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from conversations.models import Message, RiskFeedback
from conversations.risk import training
from escalation import feedback, takeover
from escalation.feedback import do_mark_missed_risk, do_mark_not_risk, do_review
from escalation.models import AuditEntry
from escalation.roles import create_staff
from escalation.takeover import TakeoverError

from .helpers import PASSWORD, flagged, operator_of, supervisor

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def say(api, text, message_id, conversation="c-1", user="u-1", level=None):
    body = {"id": message_id, "user": user, "role": "user", "text": text}
    if level:
        body["flag"] = {"level": level}
    response = api.post(f"/api/v1/conversations/{conversation}/messages", body, format="json")
    assert response.status_code == 201, response.json()
    return Message.objects.get(conversation__external_id=conversation, external_id=message_id)


def consent(api, user="u-1", given=True, **fields):
    response = api.put(f"/api/v1/users/{user}", {"training_consent": given, **fields}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def export(*args) -> list[dict]:
    out = io.StringIO()
    call_command("export_risk_feedback", *args, stdout=out, stderr=io.StringIO())
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture
def labelled(api, product):
    """A consenting user; one flagged message marked "not a risk", one plain message marked "missed
    risk"; both confirmed by a supervisor."""
    consent(api)
    incident = flagged(api, text="I'm dying to see the new film tonight", message_id="m-1", level="high_risk")
    say(api, "the letters are on my desk for whoever finds them", "m-2")
    olive, sue = operator_of(product), supervisor()
    do_mark_not_risk(olive, incident.pk, "m-1")
    do_mark_missed_risk(olive, incident.pk, "m-2", "explicit", "suicide")
    do_review(sue, RiskFeedback.objects.values_list("pk", flat=True), "confirmed")
    return incident


class TestMarking:
    def test_an_operator_marks_a_flagged_message_not_a_risk(self, api, product):
        incident = flagged(api, text="this exam is killing me", level="high_risk")
        olive = operator_of(product)
        label = do_mark_not_risk(olive, incident.pk, "m-1")
        assert (label.verdict, label.level, label.category, label.state) == ("not_risk", "none", "", "proposed")
        assert (label.proposed_by, label.source, label.incident_id) == (olive, "operator", incident.pk)
        event = incident.events.get(kind="feedback_proposed")
        assert event.actor == olive and event.data["verdict"] == "not_risk" and event.data["message"] == "m-1"
        entry = AuditEntry.objects.get(action="feedback.proposed")
        assert entry.actor == olive and entry.incident_id == incident.pk and entry.data["was"] == "high_risk"
        assert "killing" not in json.dumps(entry.data)  # no message text in the trail

    def test_any_user_message_can_be_a_missed_risk_with_the_level_and_category_picked(self, api, product):
        incident = flagged(api, level="high_risk", text="long day")
        plain = say(api, "it's whatever at this point", "m-2")
        assert plain.level == "none"
        olive = operator_of(product)
        label = do_mark_missed_risk(olive, incident.pk, "m-2", "high_risk", "suicide")
        assert (label.verdict, label.level, label.category, label.message) == ("missed_risk", "high_risk", "suicide", plain)
        # The message already flagged can be raised too; a proposal not yet reviewed is replaced.
        do_mark_missed_risk(olive, incident.pk, "m-1", "high_risk", "suicide")
        again = do_mark_missed_risk(olive, incident.pk, "m-1", "explicit", "suicide")
        assert RiskFeedback.objects.filter(message__external_id="m-1").get() == again
        assert AuditEntry.objects.filter(action="feedback.proposed").first().data["replaced"] is True

    def test_what_cannot_be_labelled(self, api, product):
        incident = flagged(api, level="high_risk")
        plain = say(api, "hello", "m-2")
        api.post("/api/v1/conversations/c-1/messages", {"id": "ai-1", "role": "assistant", "text": "hi"}, format="json")
        olive = operator_of(product)
        cases = [
            (do_mark_not_risk, ("m-2",), "invalid"),  # not flagged: nothing to take back
            (do_mark_not_risk, ("ai-1",), "invalid"),  # only a user's words are labelled
            (do_mark_not_risk, ("nope",), "not_found"),
            (do_mark_missed_risk, ("m-2", "none", "suicide"), "invalid"),
            (do_mark_missed_risk, ("m-2", "explicit", "made-up"), "invalid"),
            (do_mark_missed_risk, ("m-1", "distress", "other"), "invalid"),  # lower than it was flagged
        ]
        for action, args, code in cases:
            with pytest.raises(TakeoverError) as error:
                action(olive, incident.pk, *args)
            assert error.value.code == code, (action.__name__, args)
        assert not RiskFeedback.objects.exists() and plain.level == "none"

    def test_an_operator_of_another_product_cannot_mark(self, api, product, other_api):
        incident = flagged(api, level="explicit")
        from conversations.models import Product

        stranger = operator_of(Product.objects.get(name="companion-b"), "stranger")
        for action, args in ((do_mark_not_risk, ("m-1",)), (do_mark_missed_risk, ("m-1", "explicit", "violence"))):
            with pytest.raises(TakeoverError) as error:
                action(stranger, incident.pk, *args)
            assert error.value.code == "not_found"
        assert not RiskFeedback.objects.exists() and not AuditEntry.objects.filter(action="feedback.proposed").exists()

    def test_a_confirmed_label_stands(self, api, product):
        incident = flagged(api, level="high_risk")
        olive = operator_of(product)
        do_mark_not_risk(olive, incident.pk, "m-1")
        do_review(supervisor(), RiskFeedback.objects.values_list("pk", flat=True), "confirmed")
        with pytest.raises(TakeoverError) as error:
            do_mark_missed_risk(olive, incident.pk, "m-1", "explicit", "suicide")
        assert error.value.code == "already_confirmed"

    def test_the_transcript_shows_each_messages_label(self, api, product):
        incident = flagged(api, level="high_risk")
        say(api, "hello", "m-2")
        olive = operator_of(product)
        do_mark_not_risk(olive, incident.pk, "m-1")
        client = Client()
        assert client.login(username="olive", password=PASSWORD)
        messages = client.get(f"/console/incidents/{incident.pk}/").json()["transcript"]["messages"]
        assert messages[0]["feedback"]["verdict"] == "not_risk" and messages[0]["feedback"]["by"] == "olive"
        assert messages[0]["feedback"]["state"] == "proposed" and messages[1]["feedback"] is None


class TestFalseAlarm:
    def test_resolving_as_a_false_alarm_proposes_not_a_risk_for_the_incidents_flagged_messages(self, api, product):
        earlier = flagged(api, text="first scare", message_id="m-0", level="high_risk")
        olive = operator_of(product)
        takeover.resolve(olive, earlier.pk, "safe")  # a real one: its message is not this incident's
        incident = flagged(api, text="I could kill for a coffee", message_id="m-1", level="high_risk")
        say(api, "haha anyway", "m-2")
        flagged(api, text="this boss will be the death of me", message_id="m-3", level="distress")
        do_mark_missed_risk(olive, incident.pk, "m-3", "high_risk", "other")  # already labelled: left alone
        takeover.resolve(olive, incident.pk, "false_alarm", "jokes")
        proposed = RiskFeedback.objects.filter(source="false_alarm")
        assert [f.message.external_id for f in proposed] == ["m-1"]
        assert (proposed[0].verdict, proposed[0].level, proposed[0].proposed_by) == ("not_risk", "none", olive)
        assert RiskFeedback.objects.get(message__external_id="m-3").verdict == "missed_risk"
        kinds = [e.kind for e in incident.events.order_by("id")]
        assert kinds[-2:] == ["resolved", "feedback_proposed"]

    def test_other_outcomes_propose_nothing(self, api, product):
        incident = flagged(api, level="explicit")
        takeover.resolve(operator_of(product), incident.pk, "safe")
        assert not RiskFeedback.objects.exists()


class TestReview:
    def test_a_supervisor_confirms_or_rejects_others_proposals_not_their_own(self, api, product):
        incident = flagged(api, level="high_risk")
        say(api, "bye all", "m-2")
        olive, sue, sam = operator_of(product), supervisor(), supervisor("sam")
        first = do_mark_not_risk(olive, incident.pk, "m-1")
        own = do_mark_missed_risk(sue, incident.pk, "m-2", "high_risk", "suicide")
        counts = do_review(sue, [first.pk, own.pk], "confirmed")
        assert counts == {"reviewed": 1, "own": 1, "not_proposed": 0}
        first.refresh_from_db()
        assert (first.state, first.reviewed_by) == ("confirmed", sue) and first.reviewed_at is not None
        assert do_review(sam, [first.pk, own.pk], "rejected") == {"reviewed": 1, "own": 0, "not_proposed": 1}
        own.refresh_from_db()
        assert own.state == "rejected"
        assert [e.kind for e in incident.events.order_by("id")][-2:] == ["feedback_confirmed", "feedback_rejected"]
        assert AuditEntry.objects.filter(action="feedback.confirmed", actor=sue).count() == 1
        assert AuditEntry.objects.filter(action="feedback.rejected", actor=sam).count() == 1
        # A rejected label no longer stands: the message can be labelled again.
        assert do_mark_missed_risk(olive, incident.pk, "m-2", "explicit", "suicide").state == "proposed"

    def test_operators_cannot_review(self, api, product):
        incident = flagged(api, level="high_risk")
        olive = operator_of(product)
        label = do_mark_not_risk(operator_of(product, "otto"), incident.pk, "m-1")
        with pytest.raises(PermissionError):
            do_review(olive, [label.pk], "confirmed")
        label.refresh_from_db()
        assert label.state == "proposed"

    def test_in_the_admin_supervisors_filter_and_confirm_operators_are_refused(self, api, product):
        incident = flagged(api, level="high_risk")
        label = do_mark_not_risk(operator_of(product), incident.pk, "m-1")
        operator = Client()
        assert operator.login(username="olive", password=PASSWORD)
        assert operator.get("/admin/conversations/riskfeedback/").status_code == 403
        response = operator.post("/admin/conversations/riskfeedback/",
                                 {"action": "confirm_selected", "_selected_action": [label.pk]})
        assert response.status_code == 403
        label.refresh_from_db()
        assert label.state == "proposed"

        supervisor()
        client = Client()
        assert client.login(username="sue", password=PASSWORD)
        listing = client.get("/admin/conversations/riskfeedback/?state__exact=proposed")
        assert listing.status_code == 200 and b"confirm_selected" in listing.content
        assert b"delete_selected" not in listing.content
        response = client.post("/admin/conversations/riskfeedback/",
                               {"action": "confirm_selected", "_selected_action": [label.pk]}, follow=True)
        assert response.status_code == 200
        label.refresh_from_db()
        assert label.state == "confirmed" and label.reviewed_by.username == "sue"
        assert AuditEntry.objects.filter(action="feedback.confirmed").exists()
        assert client.get("/admin/conversations/riskfeedback/?state__exact=proposed").context["cl"].result_count == 0
        assert client.get("/admin/").status_code == 200

    def test_an_admin_may_review(self, api, product):
        incident = flagged(api, level="high_risk")
        label = do_mark_not_risk(operator_of(product), incident.pk, "m-1")
        admin = create_staff("ada", PASSWORD, "admin")
        assert do_review(admin, [label.pk], "rejected")["reviewed"] == 1


class TestExport:
    def test_confirmed_labels_of_a_consenting_user_in_the_trainers_format(self, api, labelled, tmp_path):
        lines = export()
        assert lines == [
            {"text": "I'm dying to see the new film tonight", "level": "none", "category": None, "lang": "en",
             "kind": "feedback", "speaker": "adult"},
            {"text": "the letters are on my desk for whoever finds them", "level": "explicit",
             "category": "suicide", "lang": "en", "kind": "feedback", "speaker": "adult"},
        ]
        path = tmp_path / "feedback.jsonl"
        call_command("export_risk_feedback", "--output", str(path), "--product", "companion-a",
                     stdout=io.StringIO(), stderr=io.StringIO())
        assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == lines
        # The trainer's own reader takes the file as it takes a corpus file.
        items = training.load_corpus([path])
        assert [(i["level"], i["category"], i["kind"]) for i in items] == [
            ("none", None, "feedback"), ("explicit", "suicide", "feedback")]
        assert AuditEntry.objects.filter(action="feedback.exported").first().data == {"items": 2}

    def test_another_product_and_unreviewed_or_rejected_labels_are_not_exported(self, api, labelled, product,
                                                                                other_api):
        assert export("--product", "companion-b") == []
        with pytest.raises(CommandError):
            export("--product", "no-such-product")
        incident = labelled
        say(api, "I want to disappear", "m-3")
        do_mark_missed_risk(operator_of(product, "otto"), incident.pk, "m-3", "explicit", "suicide")
        assert len(export()) == 2  # proposed only
        do_review(supervisor("sam"), RiskFeedback.objects.filter(state="proposed").values_list("pk", flat=True),
                  "rejected")
        assert len(export()) == 2

    def test_never_a_user_without_consent(self, api, product):
        consent(api, given=False)
        incident = flagged(api, level="high_risk")
        do_mark_not_risk(operator_of(product), incident.pk, "m-1")
        do_review(supervisor(), RiskFeedback.objects.values_list("pk", flat=True), "confirmed")
        assert export() == []
        # A user the product never registered (created by their first message) has not consented either.
        incident = flagged(api, conversation="c-2", user="u-2", level="high_risk")
        do_mark_not_risk(operator_of(product, "otto"), incident.pk, "m-1")
        do_review(supervisor("sam"), RiskFeedback.objects.filter(state="proposed").values_list("pk", flat=True),
                  "confirmed")
        assert export() == []

    def test_consent_withdrawn_after_the_mark_stops_the_export(self, api, labelled):
        assert len(export()) == 2
        consent(api, given=False)
        assert export() == []
        assert RiskFeedback.objects.filter(state="confirmed").count() == 2  # kept; only the export is gated
        consent(api, given=True)
        assert len(export()) == 2

    def test_erasing_the_user_removes_their_labels(self, api, labelled):
        assert api.get("/api/v1/users/u-1/export").json()["risk_feedback"][0]["verdict"] == "not_risk"
        assert api.delete("/api/v1/users/u-1").status_code == 204
        assert not RiskFeedback.objects.exists()
        assert export() == []
        assert AuditEntry.objects.get(action="user.erased").data["risk_feedback"] == 2

    def test_language_and_speaker_tags(self, api, product):
        consent(api, age_group="elder", contacts=[{"name": "Li", "kind": "emergency", "phone": "+8613800138000"}])
        incident = flagged(api, level="high_risk", text="我今晚就不想活了")
        say(api, "今晚真的很難過", "m-2")
        say(api, "好累 today 加班到十点", "m-3")
        olive = operator_of(product)
        do_mark_not_risk(olive, incident.pk, "m-1")
        for message_id in ("m-2", "m-3"):
            do_mark_missed_risk(olive, incident.pk, message_id, "high_risk", "other")
        do_review(supervisor(), RiskFeedback.objects.values_list("pk", flat=True), "confirmed")
        assert [(line["lang"], line["speaker"]) for line in export()] == [
            ("zh-Hans", "elder"), ("zh-Hant", "elder"), ("mixed", "elder")]

    def test_train_risk_model_accepts_the_export(self, api, labelled, tmp_path):
        """A tiny corpus (the trainer's 5 folds need 5 of each level) with the export as --feedback:
        the real command, in seconds, not the full model."""
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        every = training.load_corpus(training.corpus_files())
        picked = []  # a few of every level and category (the category model needs three or more)
        for level in training.LEVELS:
            for category in (None, *training.CATEGORIES):
                picked += [i for i in every if (i["level"], i["category"]) == (level, category)][:6 if level == "none" else 3]
        (corpus / "tiny.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in picked),
                                           encoding="utf-8")
        path = tmp_path / "feedback.jsonl"
        call_command("export_risk_feedback", "--output", str(path), stdout=io.StringIO(), stderr=io.StringIO())
        out = io.StringIO()
        model = tmp_path / "model.json.gz"
        call_command("train_risk_model", "--corpus", str(corpus), "--feedback", str(path), "--output", str(model),
                     stdout=out)
        assert json.loads(out.getvalue())["items"] == len(picked) + 2
        assert model.exists()

        # A feedback line that is a held-out text (whatever its spacing or punctuation) never trains.
        held_out = json.loads((ROOT / "tests/conversations/risk_heldout/heldout_16.jsonl").open(encoding="utf-8").readline())
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"text": held_out["text"] + " !!", "level": "none", "category": None}) + "\n")
        out, err = io.StringIO(), io.StringIO()
        call_command("train_risk_model", "--corpus", str(corpus), "--feedback", str(path), "--output", str(model),
                     stdout=out, stderr=err)
        assert json.loads(out.getvalue())["items"] == len(picked) + 2
        assert "left out 1 line(s) that are evaluation texts" in err.getvalue()

