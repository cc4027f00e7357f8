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

    manage.py evaluate_risk_model /tmp/candidate.json.gz --install --accept-loss "why"

installs it anyway: a person decides, in writing, that what the candidate gains (say, a whole
class of false alarms gone) is worth the crises it loses. The reason and the losses are printed and
written to the audit log (when this machine has the app's database); docs/risk.md records each
such decision.
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
        parser.add_argument("--accept-loss", metavar="REASON", default="",
                            help="with --install: install even if it loses explicit recall, for this written reason")

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
        reason = options["accept_loss"].strip()
        if losses and not (reason and options["install"]):
            self.stderr.write("refused: the candidate loses explicit recall on " + "; ".join(losses))
            raise SystemExit(1)
        if options["install"]:
            shutil.copyfile(options["candidate"], MODEL_PATH)
            self.stdout.write(f"installed {candidate.version} as {MODEL_PATH}")
            if losses:
                from django.db import DatabaseError

                from escalation import audit

                self.stdout.write("despite losing explicit recall on " + "; ".join(losses) + f"; reason: {reason}")
                try:  # models are often trained away from the deployment's database
                    audit.record("risk_model.installed_despite_loss", actor_label="manage.py evaluate_risk_model",
                                 version=candidate.version, replaced=current.version if current else None,
                                 losses=losses, reason=reason)
                except DatabaseError as error:
                    self.stderr.write(f"not written to the audit log ({error}): record the reason in docs/risk.md")
