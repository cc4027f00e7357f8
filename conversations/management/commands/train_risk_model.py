"""Train the risk model from the corpus (and reviewed feedback) into a versioned model file.

    manage.py train_risk_model                      # conversations/risk/corpus/*.jsonl -> data/model.json.gz
    manage.py train_risk_model --feedback feedback.jsonl --output /tmp/candidate.json.gz

Deterministic: the same input gives the same file. Prints the cross-validated figures on the
corpus (an estimate on text like the corpus; the held-out sets are the real test: docs/risk.md).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from conversations.risk import training
from conversations.risk.model import MODEL_PATH


class Command(BaseCommand):
    help = "Train the risk model from conversations/risk/corpus/ (plus --feedback files) into a model file."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--corpus", action="append", default=None,
                            help="a folder of *.jsonl files (repeatable; default conversations/risk/corpus)")
        parser.add_argument("--feedback", action="append", default=[],
                            help="JSON Lines of reviewed feedback (manage.py export_risk_feedback); repeatable")
        parser.add_argument("--output", default=str(MODEL_PATH), help="where to write the model file")
        parser.add_argument("--model-version", default=None, help="the model's version (default: from the corpus digest)")

    def handle(self, *args, **options):
        started = time.perf_counter()
        folders = options["corpus"] or [str(training.CORPUS_DIR)]
        files = [f for folder in folders for f in training.corpus_files(folder)] + [Path(p) for p in options["feedback"]]
        if not files:
            raise CommandError(f"no *.jsonl files in {', '.join(folders)}")
        try:
            items = training.load_corpus(files)
        except (training.CorpusError, OSError) as error:
            raise CommandError(str(error)) from None
        # An evaluation text never trains, however it got here (an operator's label on a message
        # that happens to be a held-out line, say): the held-out figures would lie. The corpus is
        # checked by a test; feedback is checked here, at the same exact-text key.
        from .evaluate_risk_model import held_out_files

        held_out = training.evaluation_keys(held_out_files())
        kept = [item for item in items if training.text_key(item["text"]) not in held_out]
        if len(kept) < len(items):
            self.stderr.write(f"left out {len(items) - len(kept)} line(s) that are evaluation texts")
        items = kept
        digest = training.corpus_digest(sorted(items, key=lambda i: (i["level"], i["text"])))
        version = options["model_version"] or f"lr-{digest[:12]}"
        data = training.train(items, version=version)
        sha = training.write_model(data, options["output"])
        self.stdout.write(json.dumps({
            "model": options["output"], "version": version, "sha256": sha, "items": len(items),
            "features": len(data["vocabulary"]), "thresholds": data["thresholds"],
            "cross_validated": data["trained"]["cross_validated"], "seconds": round(time.perf_counter() - started, 1),
        }, ensure_ascii=False, indent=1))
