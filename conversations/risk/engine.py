"""Risk engine: normalise -> match (Aho-Corasick over the concept lexicon) -> modifiers
(masks, quotes, negation, past/resolved, fiction/news/research) -> rules -> context.

All phrases, rules and modifiers are data (``data/lexicon.json``, ``data/rules.json``); this
module only interprets them. Everything is compiled once at import.
"""
from __future__ import annotations

import itertools
import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

import ahocorasick

from .normalise import DATA_DIR, NORMALISE_VERSION, matching_form

LEVELS = ("none", "distress", "high_risk", "explicit")  # ascending severity
_RANK = {name: i for i, name in enumerate(LEVELS)}


def level_rank(level: str) -> int:
    """0 for none ... 3 for explicit; unknown levels rank as none."""
    return _RANK.get(level, 0)


@dataclass(frozen=True)
class Assessment:
    level: str
    category: str | None
    signals: tuple[str, ...] = ()


NONE = Assessment("none", None, ())

with open(DATA_DIR / "lexicon.json", encoding="utf-8") as fh:
    LEXICON = json.load(fh)
with open(DATA_DIR / "rules.json", encoding="utf-8") as fh:
    RULES = json.load(fh)

VERSION = f"lexicon {LEXICON['version']} / rules {RULES['version']} / normalise {NORMALISE_VERSION}"

_LATIN = re.compile(r"[a-z0-9]")
_SLOT_RE = re.compile(r"\{([a-z_]+)\}")


def _is_latin(ch: str) -> bool:
    return bool(ch) and ("a" <= ch <= "z" or "0" <= ch <= "9")


# --------------------------------------------------------------------------- lexicon


def _expand(term: str, slots: dict, depth: int = 0) -> list[str]:
    m = _SLOT_RE.search(term)
    if not m:
        return [term]
    if depth > 5:
        raise ValueError(f"slot nesting too deep in {term!r}")
    out = []
    for value in slots[m.group(1)]:
        out.extend(_expand(term[: m.start()] + value + term[m.end():], slots, depth + 1))
    return out


@dataclass(frozen=True)
class _Entry:
    concept: str
    term: int  # index into _TERMS
    part: int
    parts: int
    prefix_ok: bool  # a trailing * lets a Latin phrase run on into a longer word


_TERMS: list[tuple[str, str]] = []  # (concept, original phrase)


def _build_automaton():
    automaton = ahocorasick.Automaton()
    table: dict[str, list[_Entry]] = {}
    slots = LEXICON.get("slots", {})
    for concept, spec in LEXICON["concepts"].items():
        for raw in spec["terms"]:
            for phrase in _expand(raw, slots):
                parts = [p.strip() for p in phrase.split("~")]
                term_id = len(_TERMS)
                _TERMS.append((concept, phrase))
                for i, part in enumerate(parts):
                    prefix_ok = part.endswith("*")
                    key = matching_form(part.rstrip("*"))
                    if not key:
                        continue
                    table.setdefault(key, []).append(_Entry(concept, term_id, i, len(parts), prefix_ok))
    for key, entries in table.items():
        automaton.add_word(key, (key, tuple(entries)))
    automaton.make_automaton()
    return automaton


_AUTOMATON = _build_automaton()
_GAP = int(LEXICON.get("gap_chars", 14))
_REGEXES = [
    (concept, re.compile(p)) for concept, pats in LEXICON.get("regex", {}).items() for p in pats
]

# --------------------------------------------------------------------------- segmentation

_SENT_END = re.compile(r"[。！？!?；;\n…]+|\.(?=\s|$)|\.{2,}")
_CLAUSE_END = re.compile(r"[，,、：:—~～()（）]|\s(?:but|though|although|however|and then)\s|但是|但|可是|然而|只是")


def _boundaries(pattern: re.Pattern, text: str) -> list[int]:
    return [m.end() for m in pattern.finditer(text)]


@dataclass
class _Hit:
    concept: str
    start: int
    end: int  # exclusive
    term: int
    sent: int = 0
    clause: int = 0


def _find_hits(m: str) -> list[_Hit]:
    singles: list[_Hit] = []
    parts: dict[int, list[list[tuple[int, int]]]] = {}
    n = len(m)
    for end_idx, (key, entries) in _AUTOMATON.iter(m):
        start = end_idx - len(key) + 1
        end = end_idx + 1
        left_ok = not (_is_latin(key[0]) and start > 0 and _is_latin(m[start - 1]))
        if not left_ok:
            continue
        right_latin = _is_latin(key[-1]) and end < n and _is_latin(m[end])
        for e in entries:
            if right_latin and not e.prefix_ok:
                continue
            if e.parts == 1:
                singles.append(_Hit(e.concept, start, end, e.term))
            else:
                slot = parts.setdefault(e.term, [[] for _ in range(e.parts)])
                slot[e.part].append((start, end))
    for term_id, spans in parts.items():
        if not all(spans):
            continue
        concept = _TERMS[term_id][0]
        for first in spans[0]:
            cur_end, ok = first[1], True
            for later in spans[1:]:
                nxt = [s for s in later if s[0] >= cur_end and s[0] - cur_end <= _GAP]
                if not nxt:
                    ok = False
                    break
                cur_end = min(nxt)[1]
            if ok:
                singles.append(_Hit(concept, first[0], cur_end, term_id))
    for concept, rx in _REGEXES:
        for mt in rx.finditer(m):
            singles.append(_Hit(concept, mt.start(), mt.end(), -1))
    return singles


# --------------------------------------------------------------------------- modifiers

_MOD = RULES["modifiers"]
_NEG = _MOD["negation"]
_NEG_APPLIES = frozenset(_NEG["applies_to"])
_PAST = _MOD["past"]
_PAST_APPLIES = frozenset(_PAST["applies_to"])
_META = _MOD["meta"]
_META_APPLIES = frozenset(_META["applies_to"])
_MASK = _MOD["mask"]["concept"]
_OVERRIDES = [tuple(p) for p in _MOD.get("overrides", {}).get("pairs", ())]
_TOKEN_RE = re.compile(r"[a-z0-9']+|[\u3400-\u9fff]")
_PAST_BREAK = frozenset({"RECENT", "TIME"})


def _quote_spans(m: str, pairs) -> list[tuple[int, int]]:
    spans = []
    limit = int(_META.get("max_quote_chars", 60))
    for open_q, close_q in pairs:
        rx = re.compile(re.escape(open_q) + r"([^" + re.escape(close_q) + r"\n]{1,%d})" % limit + re.escape(close_q))
        for mt in rx.finditer(m):
            if open_q == "'" and (mt.start() > 0 and _is_latin(m[mt.start() - 1])):
                continue  # an apostrophe, not a quote
            spans.append((mt.start(), mt.end()))
    return spans


def _overlaps(a: _Hit, start: int, end: int) -> bool:
    return a.start < end and start < a.end


def _apply_modifiers(m: str, hits: list[_Hit]) -> tuple[list[_Hit], list[str]]:
    notes: list[str] = []
    # 1. masks (idioms, hyperbole, technical, titles)
    masks = [h for h in hits if h.concept == _MASK]
    if masks:
        hits = [h for h in hits if h.concept != _MASK and not any(_overlaps(h, k.start, k.end) for k in masks)]
        notes.append("mask")
    # 2. overrides: a cue inside a longer phrase of another concept is part of that phrase
    #    (书里 in 遗书里, joking in "not even joking")
    if _OVERRIDES:
        by_concept: dict[str, list[_Hit]] = {}
        for h in hits:
            by_concept.setdefault(h.concept, []).append(h)
        drop = set()
        for winner, loser in _OVERRIDES:
            for lo in by_concept.get(loser, ()):
                if any(_overlaps(w, lo.start, lo.end) for w in by_concept.get(winner, ())):
                    drop.add(id(lo))
        if drop:
            hits = [h for h in hits if id(h) not in drop]
    # 3. quoted titles always; quoted words in a media or question context
    has_meta = any(h.concept == _META["cue"] for h in hits)
    spans = _quote_spans(m, _META["always_mask_quotes"])
    if has_meta:
        spans += _quote_spans(m, _META["quote_chars"])
    if spans:
        kept = [h for h in hits if not (h.concept in _META_APPLIES and any(s <= h.start and h.end <= e for s, e in spans))]
        if len(kept) != len(hits):
            notes.append("quoted")
        hits = kept
    # 4. negation
    cancels = [h for h in hits if h.concept == _NEG["cancel"]]
    negs = [h for h in hits if h.concept == _NEG["cue"] and not any(_overlaps(h, c.start, c.end) for c in cancels)]
    if negs:
        max_gap = int(_NEG.get("max_gap_tokens", 3))
        kept = []
        for h in hits:
            if h.concept in _NEG_APPLIES and any(
                n.clause == h.clause and n.start < h.start and n.end <= h.end
                and len(_TOKEN_RE.findall(m[n.end:h.start])) <= max_gap
                for n in negs
            ):
                notes.append("negated:" + h.concept)
                continue
            kept.append(h)
        hits = kept
    # 5. past and resolved
    pasts = [h for h in hits if h.concept == _PAST["cue"]]
    if pasts:
        resolved = [h for h in hits if h.concept == _PAST["resolved"]]
        cut = max((r.start for r in resolved), default=-1)
        breaks = [h for h in hits if h.concept in _PAST_BREAK]
        kept = []
        for h in hits:
            if h.concept in _PAST_APPLIES:
                if h.start < cut:
                    notes.append("resolved:" + h.concept)
                    continue
                if any(
                    p.sent == h.sent and p.end <= h.start
                    and not any(p.end <= b.start and b.end <= h.start for b in breaks)
                    for p in pasts
                ):
                    notes.append("past:" + h.concept)
                    # keep it as history: a relapse ("...and tonight I did it again") needs it
                    kept.append(_Hit("PAST_" + h.concept, h.start, h.end, h.term, h.sent, h.clause))
                    continue
            kept.append(h)
        hits = kept
    # 6. fiction, news, research, games: risk words in the same clause are about something else
    metas = [h for h in hits if h.concept == _META["cue"]]
    if metas:
        kept = []
        for h in hits:
            if h.concept in _META_APPLIES and any(x.clause == h.clause for x in metas):
                notes.append("meta:" + h.concept)
                continue
            kept.append(h)
        hits = kept
    return hits, notes


# --------------------------------------------------------------------------- rules


def _compile_group(group):
    if isinstance(group, dict):
        return (frozenset(group["any"]), int(group.get("min_terms", 1)))
    return (frozenset(group), 1)


_RULES = [
    {
        "id": r["id"],
        "level": r["level"],
        "rank": level_rank(r["level"]),
        "category": r.get("category"),
        "scope": r.get("scope", "message"),
        "all": [_compile_group(g) for g in r["all"]],
        "unless": frozenset(r.get("unless", ())),
    }
    for r in RULES["rules"]
]
_CTX = RULES.get("context", {})
_CTX_WINDOW = int(_CTX.get("window", 10))
_CTX_RULES = [
    {
        "id": r["id"],
        "level": r["level"],
        "rank": level_rank(r["level"]),
        "category": r.get("category"),
        "min_rank": level_rank(r.get("history_min_level", "distress")),
        "min_count": int(r.get("history_min_count", 1)),
        "categories": frozenset(r.get("history_categories", ())),
        "current": [frozenset(alt) for alt in r["current"]],
        "unless": frozenset(r.get("unless", ())),
    }
    for r in _CTX.get("rules", [])
]


def _index(hits: Iterable[_Hit]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for h in hits:
        out.setdefault(h.concept, set()).add(h.term if h.term >= 0 else -(h.start + 1))
    return out


def _fires(rule, idx: dict[str, set[int]]) -> bool:
    if any(c in idx for c in rule["unless"]):
        return False
    for concepts, min_terms in rule["all"]:
        if min_terms == 1:
            if not any(c in idx for c in concepts):
                return False
        else:
            terms = set()
            for c in concepts:
                terms |= {_TERMS[t][1] if t >= 0 else t for t in idx.get(c, ())}
            if len(terms) < min_terms:
                return False
    return True


@dataclass(frozen=True)
class _Single:
    assessment: Assessment
    concepts: frozenset


def _segment(m: str, hits: list[_Hit]) -> None:
    sents = _boundaries(_SENT_END, m)
    clauses = sorted(set(sents) | set(_boundaries(_CLAUSE_END, m)))
    for h in hits:
        h.sent = bisect_right(sents, h.start)
        h.clause = bisect_right(clauses, h.start)


@lru_cache(maxsize=8192)
def _assess_single(text: str) -> _Single:
    m = matching_form(text)
    if not m:
        return _Single(NONE, frozenset())
    hits = _find_hits(m)
    if not hits:
        return _Single(NONE, frozenset())
    _segment(m, hits)
    hits, notes = _apply_modifiers(m, hits)
    msg_idx = _index(hits)
    by_sent: dict[int, list[_Hit]] = {}
    for h in hits:
        by_sent.setdefault(h.sent, []).append(h)
    sent_idx = [_index(hs) for hs in by_sent.values()]
    fired = []
    for rule in _RULES:
        if rule["scope"] == "sentence":
            ok = any(_fires(rule, idx) for idx in sent_idx)
        else:
            ok = _fires(rule, msg_idx)
        if ok:
            fired.append(rule)
    concepts = frozenset(msg_idx)
    if not fired:
        return _Single(Assessment("none", None, tuple(notes)), concepts)
    top = max(r["rank"] for r in fired)
    first = next(r for r in fired if r["rank"] == top)
    signals = tuple(r["id"] for r in fired) + tuple(sorted(concepts)) + tuple(dict.fromkeys(notes))
    return _Single(Assessment(LEVELS[top], first["category"], signals), concepts)


def assess(text: str, history: Sequence[str] = ()) -> Assessment:
    """Assess one user message; ``history`` (earlier user messages, oldest first) can only raise."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    current = _assess_single(text)
    result = current.assessment
    if not history or result.level == "explicit":
        return result
    past = [
        _assess_single(h).assessment
        for h in list(history)[-_CTX_WINDOW:]
        if isinstance(h, str) and h.strip()
    ]
    if not past:
        return result
    best = result
    for rule in _CTX_RULES:
        if rule["rank"] <= level_rank(best.level):
            continue
        if rule["unless"] & current.concepts:
            continue
        if not any(alt <= current.concepts for alt in rule["current"]):
            continue
        count = sum(
            1 for a in past
            if level_rank(a.level) >= rule["min_rank"] and (not rule["categories"] or a.category in rule["categories"])
        )
        if count >= rule["min_count"]:
            best = Assessment(rule["level"], rule["category"], result.signals + ("context:" + rule["id"],))
    return best
