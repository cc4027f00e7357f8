"""The training corpus (conversations/risk/corpus/) and the model trained from it.

The corpus is written for training and never mixed with evaluation: no text of any evaluation set,
nor a near duplicate of one, may be in it (issue 13). The evaluation sets: this project's held-out
sets (tests/conversations/risk_cases/, tests/conversations/risk_heldout/) and, where the shared
folder is beside the checkout, the development set and the external real posts.
"""
import json
import math
from pathlib import Path

import pytest

from conversations.risk import training
from conversations.risk.model import MODEL_PATH, RiskModel

ROOT = Path(__file__).resolve().parents[2]
EVALUATION = [
    *sorted((ROOT / "tests" / "conversations" / "risk_cases").glob("*.jsonl")),
    *sorted((ROOT / "tests" / "conversations" / "risk_heldout").glob("*.jsonl")),
    ROOT.parent / "shared" / "eval" / "risk_dev.jsonl",
    *sorted((ROOT.parent / "shared" / "eval" / "external").glob("*.jsonl")),
]
SHINGLE = 4
NEAR = 0.6  # Jaccard similarity of 4-character shingles from which two texts are near duplicates
key = training.text_key  # normalised, without spaces, punctuation or emoji (as train_risk_model checks feedback)


def shingles(text):
    return {text[i:i + SHINGLE] for i in range(len(text) - SHINGLE + 1)}


# A round written for training but not yet trained on is kept in corpus_round*/ until it is
ROUNDS = sorted((ROOT / "conversations" / "risk").glob("corpus_round*"))


@pytest.fixture(scope="module")
def corpus():
    return training.load_corpus(training.corpus_files())


@pytest.fixture(scope="module")
def all_training_text(corpus):
    return corpus + training.load_corpus([path for folder in ROUNDS for path in training.corpus_files(folder)])


def evaluation_texts():
    texts = []
    for path in EVALUATION:
        if path.exists():
            texts += [json.loads(line)["text"] for line in path.open(encoding="utf-8") if line.strip()]
    return texts


def test_the_corpus_is_large_and_covers_every_level_language_and_category(corpus):
    assert len(corpus) >= 6000
    for field, values in (("level", training.LEVELS), ("lang", ("zh-Hans", "zh-Hant", "en", "mixed")),
                          ("category", training.CATEGORIES)):
        counts = {value: sum(1 for item in corpus if item.get(field) == value) for value in values}
        assert min(counts.values()) >= 50, (field, counts)


def test_no_evaluation_text_nor_a_near_duplicate_is_in_the_training_data(all_training_text):
    evaluation = [key(text) for text in evaluation_texts()]
    assert len(evaluation) > 600  # the project's own held-out sets at least
    exact = set(evaluation)
    their_shingles = [shingles(text) for text in evaluation]
    index = {}
    for number, grams in enumerate(their_shingles):
        for gram in grams:
            index.setdefault(gram, set()).add(number)
    leaks = []
    for item in all_training_text:
        text = key(item["text"])
        if text in exact:
            leaks.append((item["text"], "identical"))
            continue
        mine = shingles(text)
        if len(mine) < 4:
            continue
        # Prefix filtering: Jaccard >= NEAR needs at least NEAR * |mine| shared shingles, so a near
        # duplicate holds one of any |mine| - ceil(NEAR * |mine|) + 1 of mine; take the rarest.
        rarest = sorted(mine, key=lambda gram: (len(index.get(gram, ())), gram))
        prefix = rarest[:len(mine) - math.ceil(NEAR * len(mine)) + 1]
        for number in set().union(*(index.get(gram, set()) for gram in prefix)):
            common = len(mine & their_shingles[number])
            if common / (len(mine) + len(their_shingles[number]) - common) >= NEAR:
                leaks.append((item["text"], evaluation[number]))
                break
    assert not leaks, leaks[:200]


def test_the_model_file_was_trained_on_this_corpus(corpus):
    """Change the corpus, retrain (manage.py train_risk_model): the file says which corpus made it."""
    model = RiskModel.load()
    assert model is not None, f"{MODEL_PATH} is missing: run manage.py train_risk_model"
    ordered = sorted(corpus, key=lambda item: (item["level"], item["text"]))
    assert model.trained["corpus_sha256"] == training.corpus_digest(ordered)


def test_training_is_deterministic(tmp_path, corpus):
    sample = corpus[::25]  # a small part of the corpus keeps this test quick
    first, second = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    assert training.write_model(training.train(sample, version="t", folds=3), first) == \
        training.write_model(training.train(list(reversed(sample)), version="t", folds=3), second)
    assert first.read_bytes() == second.read_bytes()


def test_a_bad_corpus_line_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hello", "level": "fine"}\n', encoding="utf-8")
    with pytest.raises(training.CorpusError, match="bad.jsonl:1: level 'fine'"):
        training.read_jsonl(bad)
