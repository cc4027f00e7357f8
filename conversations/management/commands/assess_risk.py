"""Assess risk for JSON Lines on stdin.

Input, one object per line: {"id": ..., "text": "...", "history": [...optional earlier user messages...]}
Output, one line per input line, in order: {"id": ..., "level": ..., "category": ...}

A line that is not valid JSON, is not an object, or lacks a string "text" is answered with
level "none", category null and an "error" field (the line is also reported on stderr): the
command never stops on bad input. Blank lines are skipped.

`--backends` adds the second stage: every configured RISK_BACKENDS classifier is asked about each
line below explicit (in batches, as the worker asks), and the highest level wins, never lower than
the synchronous one. A backend that fails on a line leaves the synchronous level and adds
`"backend_errors": {name: error}` to that line (and a note on stderr).
"""
from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from django.core.management.base import CommandError

from conversations.risk import assess, assess_rules, backends, level_rank
from conversations.risk.backends import Verdict

BATCH = 32  # lines asked of the backends together (the worker's batch size)


class Command(BaseCommand):
    help = "Read JSON Lines {id, text} on stdin, write {id, level, category} per line on stdout."
    requires_system_checks: list = []  # pure text processing: no DB, no URL checks
    stealth_options = ("stdin",)  # call_command(..., stdin=io.StringIO(...)) in tests

    def add_arguments(self, parser):
        parser.add_argument("--signals", action="store_true", help="also print the signals that fired")
        stage = parser.add_mutually_exclusive_group()
        stage.add_argument("--sync-only", action="store_true",
                           help="the synchronous stage alone, as the request path answers (the default)")
        stage.add_argument("--backends", action="store_true",
                           help="add the second stage: ask the configured RISK_BACKENDS too (HTTP), the higher "
                           "level wins")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--model", action="store_true",
                           help="the learned model beside the rules, whatever settings.RISK_MODEL says")
        which.add_argument("--rules-only", action="store_true",
                           help="the rules and context alone, without the model (the lexicon engine's figures)")

    def handle(self, *args, **options):
        stdin = options.get("stdin") or sys.stdin
        show_signals = options.get("signals", False)
        if options.get("rules_only"):
            self.assess = assess_rules
        elif options.get("model"):
            self.assess = lambda text, history: assess(text, history, model=True)
        else:  # what the app runs: settings.RISK_MODEL
            self.assess = assess
        self.backends = []
        if options.get("backends"):
            if options.get("sync_only"):
                raise CommandError("--backends and --sync-only exclude each other")
            self.backends = backends.configured()
            if not self.backends:
                raise CommandError("--backends: RISK_BACKENDS is empty (docs/risk.md)")
        pending = []  # (row, text) waiting for the backends
        for lineno, raw in enumerate(stdin, start=1):
            line = raw.strip()
            if not line:
                continue
            row = self._answer(line, lineno, show_signals)
            if not self.backends:
                self._write(row)
                continue
            pending.append((row, self._text))
            if len(pending) >= BATCH:
                self._second_stage(pending, show_signals)
                pending = []
        if pending:
            self._second_stage(pending, show_signals)

    def _write(self, row):
        self.stdout.write(json.dumps(row, ensure_ascii=False))
        self.stdout.flush()

    def _second_stage(self, pending, show_signals):
        """Ask every backend about the rows below explicit; raise each to the highest answer; write all."""
        todo = [(row, text) for row, text in pending if "error" not in row and row["level"] != "explicit"]
        texts = [text for _, text in todo]
        for backend in self.backends:
            answers = backend.classify(texts) if texts else []
            for (row, _), answer in zip(todo, answers):
                if not isinstance(answer, Verdict):
                    row.setdefault("backend_errors", {})[backend.name] = answer.error
                    self.stderr.write(f"assess_risk: id {row['id']!r}: backend {backend.name}: {answer.error}")
                    continue
                if show_signals:
                    row["signals"].append(f"stage2:{backend.name}:{answer.level}")
                if level_rank(answer.level) > level_rank(row["level"]):
                    row["level"], row["category"] = answer.level, answer.category or row["category"] or "other"
        for row, _ in pending:
            self._write(row)

    def _answer(self, line: str, lineno: int, show_signals: bool) -> dict:
        item_id, self._text = None, ""
        try:
            item = json.loads(line)
        except (ValueError, RecursionError) as exc:
            return self._error(item_id, lineno, f"invalid JSON: {exc}")
        if not isinstance(item, dict):
            return self._error(item_id, lineno, "line is not a JSON object")
        item_id = item.get("id")
        text = item.get("text")
        if not isinstance(text, str):
            return self._error(item_id, lineno, "missing or non-string \"text\"")
        self._text = text
        history = item.get("history") or ()
        if not isinstance(history, list):
            history = ()
        try:
            result = self.assess(text, [h for h in history if isinstance(h, str)])
        except Exception as exc:  # the engine must not take the stream down
            return self._error(item_id, lineno, f"engine error: {exc.__class__.__name__}: {exc}")
        row = {"id": item_id, "level": result.level, "category": result.category if result.level != "none" else None}
        if show_signals:
            row["signals"] = list(result.signals)
        return row

    def _error(self, item_id, lineno: int, message: str) -> dict:
        self.stderr.write(f"assess_risk: line {lineno}: {message}")
        return {"id": item_id, "level": "none", "category": None, "error": message}
