"""Compare a candidate risk model with the installed one on every held-out file; install it only if
it loses no explicit recall anywhere.

    manage.py evaluate_risk_model /tmp/candidate.json.gz             # the table only
    manage.py evaluate_risk_model /tmp/candidate.json.gz --install   # and install it if it may be

The held-out files: tests/conversations/risk_heldout/ and risk_cases/ (this project's own), and,
where the shared evaluation folder is beside the checkout, its development set and external real
posts (evaluation only: nothing here trains on them). Each pipeline is the model beside the rules,
as the app runs it with RISK_MODEL=1. A candidate that recalls fewer explicit messages on any file
is refused (exit status 1): a missed crisis is the worst failure, and an average that hides one
set's loss would hide exactly that.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from conversations.risk import assess
from conversations.risk.model import MODEL_PATH, RiskModel
from conversations.risk.training import figures

ROOT = Path(settings.BASE_DIR)


def held_out_files() -> list[Path]:
    shared = ROOT.parent / "shared" / "eval"
    return [*sorted((ROOT / "tests" / "conversations" / "risk_heldout").glob("*.jsonl")),
            *sorted((ROOT / "tests" / "conversations" / "risk_cases").glob("*.jsonl")),
            *[p for p in [shared / "risk_dev.jsonl", *sorted((shared / "external").glob("*.jsonl"))] if p.exists()]]


def score(model, path) -> dict:
    items = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    labels = [item.get("label", item.get("level")) for item in items]
    return figures(labels, [assess(item["text"], model=model).level for item in items])


class Command(BaseCommand):
    help = "Compare a candidate risk model with the installed one on every held-out file (and install it)."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("candidate", help="a model file written by train_risk_model --output")
        parser.add_argument("--install", action="store_true", help="install the candidate if it loses no explicit recall")

    def handle(self, *args, **options):
        try:
            candidate = RiskModel.load(options["candidate"])
        except (OSError, ValueError, KeyError) as error:
            raise CommandError(f"cannot read {options['candidate']}: {error}") from None
        if candidate is None:
            raise CommandError(f"no such file: {options['candidate']}")
        current = RiskModel.load()
        losses = []
        self.stdout.write(f"{'file':<28} {'model':<22} explicit urgent missed false_alarm macro_f1")
        for path in held_out_files():
            rows = [("installed " + (current.version if current else "none"), score(current or False, path)),
                    ("candidate " + candidate.version, score(candidate, path))]
            for name, got in rows:
                self.stdout.write(f"{path.name:<28} {name:<22} {got['explicit_recall']!s:>8} {got['urgent_recall']!s:>6} "
                                  f"{got['missed_explicit']!s:>6} {got['false_alarm']!s:>11} {got['macro_f1']!s:>8}")
            before, after = rows[0][1]["explicit_recall"], rows[1][1]["explicit_recall"]
            if before is not None and after is not None and after < before:
                losses.append(f"{path.name}: explicit recall {before} -> {after}")
        if losses:
            self.stderr.write("refused: the candidate loses explicit recall on " + "; ".join(losses))
            raise SystemExit(1)
        if options["install"]:
            shutil.copyfile(options["candidate"], MODEL_PATH)
            self.stdout.write(f"installed {candidate.version} as {MODEL_PATH}")
