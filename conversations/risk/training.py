"""Training the risk model (conversations.risk.model) from the corpus: `manage.py train_risk_model`.

Deterministic: the same corpus gives the same file, byte for byte (sorted input, fixed folds, a
deterministic solver, rounded weights, a gzip header without a time). scikit-learn does the
fitting; the result is exported to the model's own file format (see model.py for why).

Decision thresholds are chosen on cross-validated predictions of the corpus itself (5 folds),
never on a held-out set: the held-out sets stay unseen (docs/risk.md). They are the pair of least
total cost (COSTS: a missed crisis costs most), counting the rules' own levels as the app does
(the higher level wins).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
from pathlib import Path

from .model import LEVELS, features
from .normalise import normalise

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
CATEGORIES = ("suicide", "self_harm", "violence", "property", "dependency", "other")
C_LEVEL, C_CATEGORY = 16.0, 4.0
PRUNE = 0.05  # n-grams whose every weight is smaller are left out of the file
DECIMALS = 4


class CorpusError(ValueError):
    pass


def read_jsonl(path) -> list[dict]:
    items = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as error:
                raise CorpusError(f"{path}:{number}: not JSON ({error})") from None
            text, level = item.get("text"), item.get("level", item.get("label"))
            category = item.get("category")
            if not isinstance(text, str) or not text.strip():
                raise CorpusError(f"{path}:{number}: no text")
            if level not in LEVELS:
                raise CorpusError(f"{path}:{number}: level {level!r} is not one of {', '.join(LEVELS)}")
            if level != "none" and category not in CATEGORIES:
                raise CorpusError(f"{path}:{number}: category {category!r} is not one of {', '.join(CATEGORIES)}")
            items.append({**item, "text": text, "level": level, "category": category if level != "none" else None})
    return items


_NOISE = re.compile(r"[\s\W_]+")


def text_key(text: str) -> str:
    """A text as compared for leaks: normalised (traditional → simplified, case, leetspeak), without
    spaces, punctuation or emoji."""
    return _NOISE.sub("", normalise(text))


def evaluation_keys(paths) -> set[str]:
    """The keys of every text in these evaluation files (missing files are skipped)."""
    keys = set()
    for path in paths:
        path = Path(path)
        if path.exists():
            with open(path, encoding="utf-8") as fh:
                keys.update(text_key(json.loads(line)["text"]) for line in fh if line.strip())
    return keys


def corpus_files(directory=CORPUS_DIR) -> list[Path]:
    return sorted(Path(directory).glob("*.jsonl"))


def load_corpus(paths) -> list[dict]:
    """Every item of every file, duplicates (same normalised text) kept once: the first wins."""
    seen, items = set(), []
    for path in paths:
        for item in read_jsonl(path):
            key = normalise(item["text"]).strip()
            if key in seen:
                continue
            seen.add(key)
            items.append(item)
    return items


# What each confusion costs when choosing thresholds: (label, called) -> cost. A missed crisis is
# the worst failure; a false alarm that reaches a family (a wrong `explicit`) the second worst; a
# wrong `high_risk` puts an incident in the operators' queue, which is cheaper.
COSTS = {
    ("explicit", "none"): 10, ("explicit", "distress"): 8, ("explicit", "high_risk"): 3,
    ("high_risk", "none"): 5, ("high_risk", "distress"): 3, ("high_risk", "explicit"): 1,
    ("distress", "explicit"): 6, ("distress", "high_risk"): 2, ("distress", "none"): 1,
    ("none", "explicit"): 8, ("none", "high_risk"): 4, ("none", "distress"): 0.5,
}
GRID = [round(0.2 + 0.02 * i, 2) for i in range(31)]  # 0.20 ... 0.80


def _thresholds(probabilities, labels, floor):
    """The explicit and urgent thresholds of least total cost (COSTS) on cross-validated
    probabilities, the rules' levels (`floor`) taken into account as the app does (the higher wins)."""
    import numpy as np

    labels = np.array([LEVELS.index(label) for label in labels])
    floor = np.array([LEVELS.index(level) for level in floor])
    cost = np.zeros((len(LEVELS), len(LEVELS)))
    for (label, called), value in COSTS.items():
        cost[LEVELS.index(label), LEVELS.index(called)] = value
    p_explicit = probabilities[:, 3]
    p_urgent = p_explicit + probabilities[:, 2]
    distress = np.where(p_urgent + probabilities[:, 1] >= 0.5, 1, 0)
    best = None
    for te in GRID:
        for tu in GRID:
            called = np.where(p_explicit >= te, 3, np.where(p_urgent >= tu, 2, distress))
            total = cost[labels, np.maximum(called, floor)].sum()
            if best is None or total < best[0] - 1e-9:
                best = (total, {"explicit": te, "urgent": tu, "distress": 0.5})
    return best[1]


def train(items: list[dict], *, version: str, folds: int = 5) -> dict:
    """The model file's content, from labelled items."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from .engine import assess_rules

    items = sorted(items, key=lambda item: (item["level"], item["text"]))
    texts = [normalise(item["text"]) for item in items]
    levels = [item["level"] for item in items]
    signals = [assess_rules(item["text"]).signals for item in items]  # features too (model.features)
    # min_df=1: every n-gram of the corpus counts in its message's norm, as at scoring time
    vectorizer = TfidfVectorizer(analyzer=lambda doc: features(*doc), sublinear_tf=True, min_df=1, dtype=np.float64)
    matrix = vectorizer.fit_transform(list(zip(texts, signals)))

    def level_model():
        return LogisticRegression(C=C_LEVEL, class_weight="balanced", max_iter=3000)

    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    cross = cross_val_predict(level_model(), matrix, levels, cv=cv, method="predict_proba")
    order = [list(sorted(set(levels))).index(level) for level in LEVELS]  # sklearn sorts classes by name
    cross = cross[:, order]
    floor = [assess_rules(item["text"]).level for item in items]  # what the rules call each message
    thresholds = _thresholds(cross, levels, floor)

    level_fit = level_model().fit(matrix, levels)
    level_rows = [list(level_fit.classes_).index(level) for level in LEVELS]
    level_coef = level_fit.coef_[level_rows]
    level_intercept = level_fit.intercept_[level_rows]

    risky = [i for i, level in enumerate(levels) if level != "none"]
    category_fit = LogisticRegression(C=C_CATEGORY, class_weight="balanced", max_iter=3000).fit(
        matrix[risky], [items[i]["category"] for i in risky])
    present = list(category_fit.classes_)
    category_coef = np.zeros((len(CATEGORIES), matrix.shape[1]))
    category_intercept = np.full(len(CATEGORIES), -30.0)  # a category with no training example never wins
    for row, category in enumerate(CATEGORIES):
        if category in present:
            category_coef[row] = category_fit.coef_[present.index(category)]
            category_intercept[row] = category_fit.intercept_[present.index(category)]

    vocabulary = {}
    for gram, column in vectorizer.vocabulary_.items():
        weights = [round(float(v), DECIMALS) for v in (*level_coef[:, column], *category_coef[:, column])]
        if max(abs(v) for v in weights) >= PRUNE:  # the rest count in the norm as unknown n-grams
            vocabulary[gram] = [round(float(vectorizer.idf_[column]), DECIMALS)] + weights
    predicted = [max(decide(dict(zip(LEVELS, row)), thresholds), low, key=LEVELS.index)
                 for row, low in zip(cross, floor)]
    return {
        "version": version,
        "classes": list(LEVELS),
        "categories": list(CATEGORIES),
        "thresholds": thresholds,
        "default_idf": round(float(np.log((1 + len(items)) / 2) + 1), DECIMALS),  # an n-gram seen once
        "intercepts": [round(float(v), DECIMALS) for v in level_intercept],
        "category_intercepts": [round(float(v), DECIMALS) for v in category_intercept],
        "vocabulary": dict(sorted(vocabulary.items())),
        "trained": {"items": len(items), "by_level": {level: levels.count(level) for level in LEVELS},
                    "corpus_sha256": corpus_digest(items),
                    "cross_validated": {"model": figures(levels, [decide(dict(zip(LEVELS, row)), thresholds)
                                                                  for row in cross]),
                                        "model_and_rules": figures(levels, predicted)}},
    }


def corpus_digest(items) -> str:
    digest = hashlib.sha256()
    for item in items:
        digest.update(f"{item['level']}\t{item.get('category')}\t{item['text']}\n".encode())
    return digest.hexdigest()


def decide(p: dict, thresholds: dict) -> str:
    urgent = p["explicit"] + p["high_risk"]
    if p["explicit"] >= thresholds["explicit"]:
        return "explicit"
    if urgent >= thresholds["urgent"]:
        return "high_risk"
    if urgent + p["distress"] >= thresholds["distress"]:
        return "distress"
    return "none"


def figures(labels, predicted) -> dict:
    """The figures the project is held to (../shared/eval/score_risk.py computes the same)."""
    pairs = list(zip(labels, predicted))
    urgent = {"explicit", "high_risk"}

    def ratio(hits, total):
        return round(hits / total, 3) if total else None

    explicit = [p for g, p in pairs if g == "explicit"]
    urgent_items = [p for g, p in pairs if g in urgent]
    none_items = [p for g, p in pairs if g == "none"]
    f1s = []
    for level in LEVELS:
        tp = sum(1 for g, p in pairs if g == level and p == level)
        fp = sum(1 for g, p in pairs if g != level and p == level)
        fn = sum(1 for g, p in pairs if g == level and p != level)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {
        "n": len(pairs),
        "explicit_recall": ratio(sum(p == "explicit" for p in explicit), len(explicit)),
        "urgent_recall": ratio(sum(p in urgent for p in urgent_items), len(urgent_items)),
        "missed_explicit": ratio(sum(p in ("distress", "none") for p in explicit), len(explicit)),
        "false_alarm": ratio(sum(p in urgent for p in none_items), len(none_items)),
        "macro_f1": round(sum(f1s) / len(f1s), 3),
    }


def write_model(data: dict, path) -> str:
    """Write the model file deterministically; returns its SHA-256."""
    raw = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as fh:
        fh.write(raw)
    Path(path).write_bytes(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()
