"""Held-out sentence sets of the risk engine (tests/conversations/risk_cases/heldout_*.jsonl).

Each set was written before the engine was tuned on it; its first-run figures are in
docs/risk.md. After tuning, every set is a regression guard: a change to the word lists or the
rules that loses recall or raises false alarms on any set fails here, per file.
"""
import json
from collections import Counter
from pathlib import Path

import pytest

from conversations.risk import normalise
from conversations.risk.engine import assess_rules as assess  # the rule layer: these sets measured it
from conversations.risk import engine

CASES = Path(__file__).resolve().parent / "risk_cases"
FILES = sorted(CASES.glob("heldout_*.jsonl"))
LEVELS = ("explicit", "high_risk", "distress", "none")
URGENT = {"explicit", "high_risk"}

# per-file thresholds (figures the project is held to, with a little room for a hard case)
MIN_EXPLICIT_RECALL = 0.95
MIN_URGENT_RECALL = 0.95
MAX_MISSED_EXPLICIT = 0.04  # explicit called distress or none
MAX_FALSE_ALARM = 0.03  # none called explicit or high_risk
MIN_ACCURACY = 0.95


def load(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_there_are_enough_held_out_sentences():
    rows = [r for f in FILES for r in load(f)]
    assert len(FILES) >= 4 and len(rows) >= 400
    by_label = Counter(r["label"] for r in rows)
    assert set(by_label) == set(LEVELS) and min(by_label.values()) >= 80
    for r in rows:
        assert set(r) == {"text", "label", "note"} and r["text"].strip()


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_held_out_set(path):
    rows = load(path)
    got = [(r, assess(r["text"]).level) for r in rows]
    n = Counter(r["label"] for r in rows)
    explicit = [lvl for r, lvl in got if r["label"] == "explicit"]
    urgent = [lvl for r, lvl in got if r["label"] in URGENT]
    none = [lvl for r, lvl in got if r["label"] == "none"]
    figures = {
        "explicit_recall": explicit.count("explicit") / n["explicit"],
        "urgent_recall": sum(lvl in URGENT for lvl in urgent) / len(urgent),
        "missed_explicit": sum(lvl in ("distress", "none") for lvl in explicit) / n["explicit"],
        "false_alarm": sum(lvl in URGENT for lvl in none) / n["none"],
        "accuracy": sum(lvl == r["label"] for r, lvl in got) / len(rows),
    }
    wrong = [f"{r['label']} called {lvl}: {r['text']}" for r, lvl in got if lvl != r["label"]]
    detail = f"{path.name} {figures}\n" + "\n".join(wrong)
    assert figures["explicit_recall"] >= MIN_EXPLICIT_RECALL, detail
    assert figures["urgent_recall"] >= MIN_URGENT_RECALL, detail
    assert figures["missed_explicit"] <= MAX_MISSED_EXPLICIT, detail
    assert figures["false_alarm"] <= MAX_FALSE_ALARM, detail
    assert figures["accuracy"] >= MIN_ACCURACY, detail


# --------------------------------------------------------------------------- engine features behind the sets


@pytest.mark.parametrize(
    "text, expected",
    [
        # someone else at risk: the operator sees it (high_risk), the user's family is not called (never explicit)
        ("My cousin told me she wants to kill herself tonight", "high_risk"),
        ("我室友说她今晚想自杀，怎么办", "high_risk"),
        ("我哥说他不想活了", "high_risk"),
        # ... but the user's own words after a third person stay the user's
        ("她走了以后，我今晚就去自杀", "explicit"),
        ("he said I should kill myself", "high_risk"),
        # ... and a character in a story or a person in the news is nobody at risk
        ("In the novel, why does the heroine kill herself?", "none"),
        ("我朋友说她想死我了", "none"),
    ],
)
def test_third_person_policy(text, expected):
    assert assess(text).level == expected, assess(text).signals


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I can't find a single reason to live", "high_risk"),
        ("我找不到活下去的理由", "high_risk"),
        ("My kids are my reason to live", "none"),
        ("她是我活下去的动力", "none"),
    ],
)
def test_reason_to_live_counts_only_when_negated(text, expected):
    assert assess(text).level == expected, assess(text).signals


def test_starred_out_words_are_read():
    assert normalise("gonna k*ll myself") == "gonna kill myself"
    assert normalise("su*c*de") == "suicide"
    assert normalise("**bold** and 5*3") == "**bold** and 5*3"


def test_simplified_characters_are_never_rewritten():
    # the variant tables once turned 吃 into 喫 and 么 into 幺, which regex patterns missed
    assert normalise("吃什么") == "吃什么"
    assert normalise("我剛剛吃了藥") == "我刚刚吃了药"


def test_idiom_inside_a_longer_risk_phrase_is_not_masked():
    assert assess("I'm going to beat my neighbour to death tonight").level == "explicit"
    assert assess("bored to death at work").level == "none"


def test_early_exit_keeps_context_rules_working():
    # a bare goodbye has no rule anchor, but the context rules still need its concepts
    history = ["I've been crying all day, I feel so alone.", "Nobody cares about me, I'm so hopeless."]
    assert assess("Goodbye.").level == "none"
    assert assess("Goodbye.", history).level == "high_risk"
    assert engine._assess_single("What a lovely day", False).concepts == frozenset()
