"""Assess risk for JSON Lines on stdin.

Input, one object per line: {"id": ..., "text": "...", "history": [...optional earlier user messages...]}
Output, one line per input line, in order: {"id": ..., "level": ..., "category": ...}

A line that is not valid JSON, is not an object, or lacks a string "text" is answered with
level "none", category null and an "error" field (the line is also reported on stderr): the
command never stops on bad input. Blank lines are skipped.
"""
from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from conversations.risk import assess, assess_rules


class Command(BaseCommand):
    help = "Read JSON Lines {id, text} on stdin, write {id, level, category} per line on stdout."
    requires_system_checks: list = []  # pure text processing: no DB, no URL checks
    stealth_options = ("stdin",)  # call_command(..., stdin=io.StringIO(...)) in tests

    def add_arguments(self, parser):
        parser.add_argument("--signals", action="store_true", help="also print the signals that fired")
        parser.add_argument("--sync-only", action="store_true",
                            help="the synchronous stage alone, as the request path runs it (today the whole local "
                            "pipeline: there is no second stage yet)")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--model", action="store_true",
                           help="the learned model beside the rules, whatever settings.RISK_MODEL says")
        which.add_argument("--rules-only", action="store_true",
                           help="the rules and context alone, without the model (the lexicon engine's figures)")

    def handle(self, *args, **options):
        stdin = options.get("stdin") or sys.stdin
        out = self.stdout
        show_signals = options.get("signals", False)
        if options.get("rules_only"):
            self.assess = assess_rules
        elif options.get("model"):
            self.assess = lambda text, history: assess(text, history, model=True)
        else:  # what the app runs: settings.RISK_MODEL
            self.assess = assess
        for lineno, raw in enumerate(stdin, start=1):
            line = raw.strip()
            if not line:
                continue
            row = self._answer(line, lineno, show_signals)
            out.write(json.dumps(row, ensure_ascii=False))
            out.flush()

    def _answer(self, line: str, lineno: int, show_signals: bool) -> dict:
        item_id = None
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
