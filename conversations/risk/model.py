"""The learned part of risk recognition: a linear model over character and word n-grams.

Why this model. Nine rounds of word lists recalled only the phrasings their authors thought of
(docs/risk.md). A model trained on a corpus written for training (conversations/risk/corpus/)
learns from whole families of phrasings at once. Among what measures well here, a logistic
regression over TF-IDF n-grams of the *normalised* text (traditional → simplified, leetspeak,
aliases: conversations.risk.normalise) is the one that fits the synchronous path: scoring a
message is a dictionary lookup per n-gram and one small matrix product with numpy, about 0.2 ms,
with no machine-learning library loaded at run time. A sentence encoder (USE multilingual, whose
weights a wheel ships) did worse on this corpus in cross-validation (more false alarms at the same
recall) and takes about 140 ms for one message, so it is not in the request path.

The file format is ours, on purpose: a gzipped JSON file (`data/model.json.gz`) holding the
n-gram vocabulary, the IDF weights, the coefficients and the decision thresholds. scikit-learn
trains it (`manage.py train_risk_model`, conversations.risk.training) but is not needed to load
it: a pickled estimator would tie the app to one scikit-learn version and is unsafe to load.
`features()` is the single definition of the n-grams, used by training and scoring alike, so the
two cannot drift apart.
"""
from __future__ import annotations

import gzip
import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .normalise import normalise

MODEL_PATH = Path(__file__).resolve().parent / "data" / "model.json.gz"
LEVELS = ("none", "distress", "high_risk", "explicit")  # the engine's, ascending severity

_LATIN_WORD = re.compile(r"[a-z0-9']+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
MAX_CHARS = 2000  # a longer message is scored on its first and last 1000 characters


def features(text: str, signals=()) -> list[str]:
    """The n-grams of an already normalised text, and the rules' signals for it (`r:`).

    Latin script: whole words (`w:`), word pairs (`b:`) and the 3–5 letter pieces of each word with
    its edges marked (`c:`), so a typo or a new inflection still shares most pieces. Chinese:
    runs of 1–3 characters (`z:`), Chinese having no spaces. Emoji and other symbols: one each
    (`s:`). Nothing else (spaces, punctuation) counts. The rules' signals (concepts that fired, and
    notes such as `negated:SH` or `past:S_SELF`) let the model learn what the lexicon already knows
    about negation, idioms and tense."""
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS // 2] + " " + text[-MAX_CHARS // 2:]
    out = []
    words = _LATIN_WORD.findall(text)
    for index, word in enumerate(words):
        out.append("w:" + word)
        if index:
            out.append(f"b:{words[index - 1]} {word}")
        padded = f"<{word}>"
        for n in (3, 4, 5):
            out.extend("c:" + padded[i:i + n] for i in range(len(padded) - n + 1))
    for run in _CJK.findall(text):
        for n in (1, 2, 3):
            out.extend("z:" + run[i:i + n] for i in range(len(run) - n + 1))
    for ch in text:
        if ord(ch) > 0x2000 and not _CJK.match(ch) and unicodedata.category(ch).startswith("S"):
            out.append("s:" + ch)
    out.extend("r:" + signal for signal in signals if not signal.startswith("context:"))
    return out


@dataclass(frozen=True)
class Scored:
    level: str
    score: float  # the probability behind the level: P(explicit), P(explicit or high_risk), ...
    category: str | None  # the category model's choice (None for level none)
    probabilities: dict


def _softmax(scores):
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


class RiskModel:
    """A trained model, loaded from its file. `score(text)` takes raw text.

    Two linear models share one vocabulary: the level (4 classes) and the category (6 classes,
    trained on messages at distress or above). Each vocabulary row is [idf, level coefficients...,
    category coefficients...]."""

    def __init__(self, data: dict):
        self.version = data["version"]
        self.classes = data["classes"]  # LEVELS order
        self.categories = data["categories"]
        self.thresholds = data["thresholds"]  # {"explicit": p, "urgent": p, "distress": p}
        self.trained = data.get("trained", {})
        import numpy as np  # a dependency of the app only through the model (scikit-learn brings it)

        vocabulary = data["vocabulary"]
        self.index = {gram: row for row, gram in enumerate(vocabulary)}
        table = np.array(list(vocabulary.values()), dtype=np.float64).reshape(len(vocabulary), -1)
        self.idf, self.coefs = table[:, 0], table[:, 1:]
        # An n-gram the file does not hold (never seen, or pruned for its tiny weights) still counts
        # in the L2 norm, as an n-gram seen once would: unknown words dilute, they do not amplify
        # the few known ones (else "我想学吉他" is scored on "我想" alone).
        self.default_idf = data["default_idf"]
        self.intercepts = np.array(data["intercepts"] + data["category_intercepts"], dtype=np.float64)
        self.split = len(self.classes)

    @classmethod
    def load(cls, path=MODEL_PATH) -> RiskModel | None:
        path = Path(path)
        if not path.exists():
            return None
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return cls(json.load(fh))

    def raw_scores(self, normalised: str, signals=()) -> list[float]:
        """The level and category models' scores (logits), in one pass over the n-grams."""
        import numpy as np

        rows, tfs = [], []
        unknown = 0.0
        index = self.index
        for gram, count in Counter(features(normalised, signals)).items():
            tf = 1.0 + math.log(count)  # sublinear TF, as TfidfVectorizer does
            row = index.get(gram)
            if row is None:
                unknown += tf * tf
            else:
                rows.append(row)
                tfs.append(tf)
        if not rows:
            return self.intercepts.tolist()
        values = np.array(tfs) * self.idf[rows]  # x IDF
        norm = math.sqrt(float(values @ values) + unknown * self.default_idf ** 2)  # L2, as TfidfVectorizer does
        return (self.intercepts + (values / norm) @ self.coefs[rows]).tolist()

    def probabilities(self, normalised: str, signals=()) -> dict:
        scores = self.raw_scores(normalised, signals)
        return dict(zip(self.classes, _softmax(scores[:self.split])))

    def score(self, text: str, signals=()) -> Scored:
        """`signals`: the rules' signals for this message (assess_rules), which are features too."""
        scores = self.raw_scores(normalise(text), signals)
        p = dict(zip(self.classes, _softmax(scores[:self.split])))
        category_scores = scores[self.split:]
        category = self.categories[category_scores.index(max(category_scores))]
        urgent = p["explicit"] + p["high_risk"]
        t = self.thresholds
        if p["explicit"] >= t["explicit"]:
            return Scored("explicit", p["explicit"], category, p)
        if urgent >= t["urgent"]:
            return Scored("high_risk", urgent, category, p)
        if urgent + p["distress"] >= t["distress"]:
            return Scored("distress", urgent + p["distress"], category, p)
        return Scored("none", p["none"], None, p)
