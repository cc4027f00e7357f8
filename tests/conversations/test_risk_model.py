"""The learned risk model beside the rules (issue 13): how it combines, how it is switched on, and
its figures on this project's held-out sets 10, 11 and 14–17 kept as a floor (they were measured once, at
first sight, and are never trained on: docs/risk.md)."""
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from conversations.risk import assess, assess_rules, learned_model, level_rank
from conversations.risk.training import figures

HELD_OUT = Path(__file__).resolve().parent / "risk_heldout"


def test_the_model_is_in_the_repository_and_loads():
    model = learned_model()
    assert model is not None and model.version.startswith("lr-")
    assert set(model.thresholds) == {"explicit", "urgent", "distress"}


@pytest.mark.parametrize("text", ["我已经准备好药了，今晚吃完就结束", "我站在天台上了", "I want to kill myself", "我想自杀"])
def test_what_the_lexicon_under_calls_the_model_calls_explicit(text):
    """The issue's own examples: `none` or only `high_risk` by the rules, so no operator was asked."""
    assert level_rank(assess_rules(text).level) < level_rank("explicit")
    result = assess(text, model=True)
    assert result.level == "explicit" and result.category == "suicide"
    assert result.signals[0] == "by:model" and result.signals[1].startswith("model:explicit:")


def test_the_higher_level_wins_and_a_threat_is_violence():
    text = "I know where he lives. Tonight I'm going over there with the knife"
    result = assess(text, model=True)
    assert (result.level, result.category) == ("explicit", "violence")
    for text in ("笑死我了哈哈哈", "公安局的人说我涉嫌洗钱，要我把钱转到安全账户"):
        assert level_rank(assess(text, model=True).level) >= level_rank(assess_rules(text).level)


def test_on_by_default_and_off_with_the_setting(settings):
    assert settings.RISK_MODEL is True  # the default (RISK_MODEL unset)
    text = "我站在天台上了"
    assert assess(text).level == "explicit"
    settings.RISK_MODEL = False
    assert assess(text) == assess_rules(text)


@pytest.mark.django_db
def test_through_the_api_with_the_model_on(api, settings):
    settings.RISK_MODEL = True
    body = {"id": "m-1", "user": "u-1", "role": "user", "text": "I know where he lives. Tonight I'm going over there with the knife"}
    answer = api.post("/api/v1/conversations/c-1/messages", body, format="json").json()
    assert answer["assessment"]["level"] == "explicit" and answer["assessment"]["category"] == "violence"
    assert "hold_for_operator" in [d["type"] for d in answer["directives"]]


def run_command(*args, lines):
    out = io.StringIO()
    call_command("assess_risk", *args, stdin=io.StringIO("\n".join(json.dumps(line) for line in lines)), stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_assess_risk_measures_either_pipeline():
    line = {"id": 1, "text": "我站在天台上了"}
    assert run_command("--rules-only", lines=[line])[0]["level"] == "none"
    assert run_command("--model", lines=[line])[0]["level"] == "explicit"
    assert "model:explicit" in " ".join(run_command("--model", "--signals", lines=[line])[0]["signals"])


@pytest.mark.parametrize("name, floor", [
    # First sight (docs/risk.md): set 10 explicit 0.975, urgent 0.994; set 11 0.988, 0.969. Floors a
    # little below, so that a change that loses crises fails here; false alarms are the known weakness.
    ("heldout_10.jsonl", {"explicit_recall": 0.95, "urgent_recall": 0.95, "false_alarm": 0.20}),
    ("heldout_11.jsonl", {"explicit_recall": 0.95, "urgent_recall": 0.93, "false_alarm": 0.15}),
    # Round 3 (docs/risk.md): sets 14 and 15 at first sight of the installed model, 0.912 / 0.956 /
    # 0.083 and 0.938 / 0.944 / 0.094.
    ("heldout_14.jsonl", {"explicit_recall": 0.90, "urgent_recall": 0.93, "false_alarm": 0.12}),
    ("heldout_15.jsonl", {"explicit_recall": 0.92, "urgent_recall": 0.92, "false_alarm": 0.12}),
    # Sets 16 and 17, first sight after round 3 was installed: 0.988 / 0.956 / 0.066, 0.987 / 0.987 / 0.105.
    ("heldout_16.jsonl", {"explicit_recall": 0.96, "urgent_recall": 0.93, "false_alarm": 0.10}),
    ("heldout_17.jsonl", {"explicit_recall": 0.96, "urgent_recall": 0.96, "false_alarm": 0.14}),
])
def test_held_out_floors_of_model_and_rules(name, floor):
    items = [json.loads(line) for line in (HELD_OUT / name).open(encoding="utf-8") if line.strip()]
    got = figures([i["label"] for i in items], [assess(i["text"], model=True).level for i in items])
    assert got["explicit_recall"] >= floor["explicit_recall"], got
    assert got["urgent_recall"] >= floor["urgent_recall"], got
    assert got["false_alarm"] <= floor["false_alarm"], got


class TestEvaluateRiskModel:
    """`manage.py evaluate_risk_model`: a candidate that loses explicit recall anywhere is refused."""

    @pytest.fixture
    def files(self, tmp_path, monkeypatch):
        from conversations.management.commands import evaluate_risk_model
        from conversations.risk.model import MODEL_PATH

        held_out = HELD_OUT / "heldout_10.jsonl"
        monkeypatch.setattr(evaluate_risk_model, "held_out_files", lambda: [held_out])
        installed = tmp_path / "installed.json.gz"
        monkeypatch.setattr(evaluate_risk_model, "MODEL_PATH", installed)
        return MODEL_PATH, installed, tmp_path

    def candidate(self, tmp_path, source, **thresholds):
        import gzip

        with gzip.open(source, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
        data["thresholds"].update(thresholds)
        data["version"] = "lr-candidate"
        path = tmp_path / "candidate.json.gz"
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            json.dump(data, fh)
        return path

    def test_an_equal_candidate_is_installed(self, files):
        current, installed, tmp_path = files
        path = self.candidate(tmp_path, current)
        out = io.StringIO()
        call_command("evaluate_risk_model", str(path), "--install", stdout=out)
        assert "heldout_10.jsonl" in out.getvalue() and "installed lr-candidate" in out.getvalue()
        assert installed.read_bytes() == path.read_bytes()

    def test_a_candidate_that_misses_crises_is_refused(self, files):
        current, installed, tmp_path = files
        path = self.candidate(tmp_path, current, explicit=0.999)  # hardly ever explicit
        err = io.StringIO()
        with pytest.raises(SystemExit) as exit_:
            call_command("evaluate_risk_model", str(path), "--install", stdout=io.StringIO(), stderr=err)
        assert exit_.value.code == 1 and "heldout_10.jsonl: explicit recall" in err.getvalue()
        assert not installed.exists()

    @pytest.mark.django_db
    def test_a_written_reason_installs_it_anyway_and_is_audited(self, files):
        from escalation.models import AuditEntry

        current, installed, tmp_path = files
        path = self.candidate(tmp_path, current, explicit=0.999)
        with pytest.raises(SystemExit):  # a reason alone, without --install, installs nothing
            call_command("evaluate_risk_model", str(path), "--accept-loss", "because",
                         stdout=io.StringIO(), stderr=io.StringIO())
        assert not installed.exists()
        out = io.StringIO()
        call_command("evaluate_risk_model", str(path), "--install", "--accept-loss", "goodbyes were explicit",
                     stdout=out, stderr=io.StringIO())
        assert installed.read_bytes() == path.read_bytes()
        assert "reason: goodbyes were explicit" in out.getvalue()
        entry = AuditEntry.objects.get(action="risk_model.installed_despite_loss")
        assert entry.data["reason"] == "goodbyes were explicit" and "heldout_10.jsonl" in entry.data["losses"][0]


def test_the_operator_reads_reasons_in_words_not_rule_ids():
    from conversations.risk.reasons import reasons

    got = reasons(assess("我站在天台上了", model=True).signals)
    assert got[0] == {"kind": "decided", "by": "model"}
    assert got[1]["kind"] == "model" and got[1]["level"] == "explicit" and 0.5 <= got[1]["score"] <= 1
    rule = reasons(["by:rules", "S_SELF", "INTENT", "suicide_intent", "model:explicit:0.97"])
    assert [r["kind"] for r in rule] == ["decided", "rule", "model"]  # concept names are left out
    assert rule[1]["rule"] == "suicide intent" and "kill myself" in rule[1]["example"]
    context = reasons(["context:ctx_distress_then_goodbye", "model:none:0.9", "model:bogus"])
    assert context[0] == {"kind": "context", "rule": "distress then goodbye", "example": ""}
    assert reasons(None) == []
