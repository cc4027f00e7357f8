"""Risk engine: normalise -> match (Aho-Corasick over the concept lexicon) -> modifiers
(masks, quotes, negation, past/resolved, fiction/news/research) -> rules -> context.

All phrases, rules and modifiers are data (``data/lexicon.json``, ``data/rules.json``); this
module only interprets them. Everything is compiled once at import.
"""
from __future__ import annotations

import json
import re
from bisect import bisect_left
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Sequence

import ahocorasick

from .model import RiskModel
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
        # everything a match needs, precomputed: key length, whether the key starts / ends with a
        # Latin character (whole-word checks), then the entries split by whether they may run on
        # into a longer word and by whether they are whole phrases or parts of a gapped phrase
        value = (
            len(key),
            _is_latin(key[0]),
            _is_latin(key[-1]),
            tuple((e.concept, e.term) for e in entries if e.parts == 1 and e.prefix_ok),
            tuple((e.concept, e.term) for e in entries if e.parts == 1 and not e.prefix_ok),
            tuple((e.term, e.part, e.parts) for e in entries if e.parts > 1 and e.prefix_ok),
            tuple((e.term, e.part, e.parts) for e in entries if e.parts > 1 and not e.prefix_ok),
        )
        automaton.add_word(key, value)
    automaton.make_automaton()
    return automaton


_AUTOMATON = _build_automaton()
_GAPPED = [("~" in phrase) for _concept, phrase in _TERMS]  # a gapped hit never outranks a mask
_GAP = int(LEXICON.get("gap_chars", 14))
_GAP_STOP = re.compile(r"[。！？!?；;\n…]")  # the parts of a gapped phrase stay in one sentence
# one alternation per regex concept: a handful of scans per message instead of one per pattern
_REGEXES = [
    (concept, re.compile("|".join(f"(?:{p})" for p in pats)))
    for concept, pats in LEXICON.get("regex", {}).items() if pats
]

# --------------------------------------------------------------------------- segmentation

_SENT_END = re.compile(r"[。！？!?；;\n…]+|\.(?=\s|$)|\.{2,}")
_CLAUSE_END = re.compile(r"[，,、：:—~～()（）]|\s(?:but|though|although|however|and then)\s|但是|但|可是|然而|只是")


def _boundaries(pattern: re.Pattern, text: str) -> list[int]:
    return [m.end() for m in pattern.finditer(text)]


@dataclass(slots=True)
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
    for end_idx, (klen, latin_first, latin_last, run_on, whole, gap_run_on, gap_whole) in _AUTOMATON.iter(m):
        start = end_idx - klen + 1
        end = end_idx + 1
        if latin_first and start > 0 and _is_latin(m[start - 1]):
            continue  # a Latin phrase starts on a word boundary
        right_latin = latin_last and end < n and _is_latin(m[end])
        for concept, term in run_on:
            singles.append(_Hit(concept, start, end, term))
        if not right_latin:
            for concept, term in whole:
                singles.append(_Hit(concept, start, end, term))
        for group in (gap_run_on, () if right_latin else gap_whole):
            for term, part, count in group:
                slot = parts.get(term)
                if slot is None:
                    if part:
                        continue  # a later part before the first one cannot complete the phrase
                    slot = parts[term] = [[] for _ in range(count)]
                elif part and not slot[part - 1]:
                    continue
                slot[part].append((start, end))
    for term_id, spans in parts.items():
        if not all(spans):
            continue
        concept = _TERMS[term_id][0]
        # The earliest later part that starts at or after the current end is the best candidate
        # (a stop word only gets likelier further on): a binary search, not a scan, so a long run of
        # one repeated character stays linear-logarithmic instead of quadratic.
        later_parts = [sorted(later) for later in spans[1:]]
        later_starts = [[s[0] for s in later] for later in later_parts]
        for first in spans[0]:
            cur_end, ok = first[1], True
            for later, starts in zip(later_parts, later_starts):
                i = bisect_left(starts, cur_end)
                if i == len(later) or later[i][0] - cur_end > _GAP or _GAP_STOP.search(m, cur_end, later[i][0]):
                    ok = False
                    break
                cur_end = later[i][1]
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
_META_MESSAGE = frozenset(_META.get("message_scope", ()))  # cancelled by a cue anywhere in the message
_MASK = _MOD["mask"]["concept"]
_OVERRIDES = [tuple(p) for p in _MOD.get("overrides", {}).get("pairs", ())]
_THIRD = _MOD["third_person"]
_THIRD_APPLIES = frozenset(_THIRD["applies_to"])
_THIRD_GAP = int(_THIRD.get("max_gap_chars", 24))
_FIRST_PERSON = re.compile(_THIRD["first_person_regex"])
_THIRD_TARGETS = dict(_THIRD.get("targets", {}))
_POLAR = _MOD["polarity"]
_POLAR_CUES = frozenset(_POLAR["cues"])
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
        # a hit that strictly contains a mask is a longer phrase of its own ("beat him to death"
        # contains the idiom "to death") and survives; every other overlapping hit is dropped
        hits = [
            h for h in hits
            if h.concept != _MASK and not any(
                _overlaps(h, k.start, k.end)
                and not (
                    h.term >= 0 and not _GAPPED[h.term]
                    and h.start <= k.start and k.end <= h.end and h.end - h.start > k.end - k.start
                )
                for k in masks
            )
        ]
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
    # 3b. third persons: a risk phrase whose subject is someone else ("我朋友说她想自杀",
    #     "my roommate keeps talking about wanting to die") becomes a THIRD hit, provided the
    #     subject cue comes first in the same clause and no first-person word stands between.
    subjects = [h for h in hits if h.concept == _THIRD["cue"]]
    if subjects:
        kept = []
        for h in hits:
            if h.concept in _THIRD_APPLIES and any(
                s.clause == h.clause and s.end <= h.start and h.start - s.end <= _THIRD_GAP
                and not _FIRST_PERSON.search(m, s.end, h.start if h.concept not in _THIRD_TARGETS else h.end + _THIRD_GAP)
                for s in subjects
            ):
                notes.append("third:" + h.concept)
                target = _THIRD_TARGETS.get(h.concept, _THIRD["concept"])
                kept.append(_Hit(target, h.start, h.end, h.term, h.sent, h.clause))
                continue
            kept.append(h)
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
    # 4b. polarity: a phrase such as "reason to live" or 活下去的理由 is a risk only when negated
    #     ("I don't see any reason to live", 找不到活下去的理由); otherwise it is dropped.
    polar = [h for h in hits if h.concept == _POLAR["concept"]]
    if polar:
        cues = [h for h in hits if h.concept in _POLAR_CUES]
        max_gap = int(_POLAR.get("max_gap_tokens", 6))
        kept = []
        for h in hits:
            if h.concept != _POLAR["concept"]:
                kept.append(h)
            elif any(
                n.clause == h.clause and n.start < h.start
                and len(_TOKEN_RE.findall(m[n.end:h.start])) <= max_gap
                for n in cues
            ):
                notes.append("polar:" + _POLAR["target"])
                kept.append(_Hit(_POLAR["target"], h.start, h.end, h.term, h.sent, h.clause))
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
            if h.concept in _META_APPLIES and (
                h.concept in _META_MESSAGE or any(x.clause == h.clause for x in metas)
            ):
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


for _r in _RULES:
    _r["single"] = tuple(g for g, n in _r["all"] if n == 1)  # plain groups: one set test each
    _r["multi"] = tuple((g, n) for g, n in _r["all"] if n > 1)


def _groups_met(rule, present) -> bool:
    """Every plain group has a concept in ``present`` (set operations, no Python loop per concept)."""
    for group in rule["single"]:
        if group.isdisjoint(present):
            return False
    return True


def _fires(rule, idx: dict[str, set[int]]) -> bool:
    if not rule["unless"].isdisjoint(idx.keys()) or not _groups_met(rule, idx.keys()):
        return False
    for concepts, min_terms in rule["multi"]:
        terms = set()
        for c in concepts:
            terms |= {_TERMS[t][1] if t >= 0 else t for t in idx.get(c, ())}
        if len(terms) < min_terms:
            return False
    return True


# Every rule needs a hit of its first group: a message whose hits (after the modifiers) meet
# none of these concepts fires no rule. Before the modifiers, the concepts they convert into
# those (third person, past, polarity sources) and the concepts the context rules read count too.
# Any one group of a rule will do; the least common one makes the test most useful, so groups
# made only of everyday cues (times, "I'll", 想, money words) are passed over when possible.
_COMMON = frozenset({
    "TIME", "INTENT", "WANT", "THINK", "URGE", "DO_IT", "MONEY", "PROGRESS", "METHOD", "PLAN", "RECENT",
    "THANKS_BARE", "FAREWELL", "SERIOUS", "DONE", "FINALITY", "SCAM", "STOCKPILE", "HABIT",
})


def _anchor_group(rule) -> frozenset:
    groups = list(rule["single"]) + [g for g, _n in rule["multi"]]
    return min(groups, key=lambda g: (g <= _COMMON, len(g & _COMMON), len(g)))


def _sources(concepts: frozenset) -> frozenset:
    """Concepts that the modifiers turn into one of ``concepts`` (past, third person, polarity)."""
    out = set(concepts)
    out |= {c for c in _PAST_APPLIES if "PAST_" + c in concepts}
    out |= {c for c in _THIRD_APPLIES if _THIRD_TARGETS.get(c, _THIRD["concept"]) in concepts}
    if _POLAR["target"] in concepts:
        out.add(_POLAR["concept"])
    return frozenset(out)


_ANCHOR = frozenset().union(*(_anchor_group(r) for r in _RULES))
_WORTH_A_LOOK = _sources(_ANCHOR)  # before the modifiers, for a message judged on its own
_WORTH_A_LOOK_CTX = _WORTH_A_LOOK | _sources(  # ... and for one whose history will be read
    frozenset().union(*(alt for r in _CTX_RULES for alt in r["current"]), *(r["unless"] for r in _CTX_RULES))
)


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
def _assess_single(text: str, context: bool = True) -> _Single:
    """``context=False``: the caller needs the assessment only, not the concepts that the
    context rules read, so a message with no rule anchor at all can stop early."""
    m = matching_form(text)
    if not m:
        return _Single(NONE, frozenset())
    hits = _find_hits(m)
    if not hits:
        return _Single(NONE, frozenset())
    if (_WORTH_A_LOOK_CTX if context else _WORTH_A_LOOK).isdisjoint([h.concept for h in hits]):
        # nothing that a rule or a context rule could use, even after the modifiers convert
        # hits (third person, past, polarity): the common case for everyday messages
        return _Single(NONE, frozenset())
    _segment(m, hits)
    hits, notes = _apply_modifiers(m, hits)
    msg_idx = _index(hits)
    present = msg_idx.keys()
    sent_idx = None
    fired = []
    for rule in (_RULES if not present.isdisjoint(_ANCHOR) else ()):
        # cheap message-level test first: a sentence rule cannot fire in a sentence unless
        # every one of its groups is met somewhere in the message
        if not _groups_met(rule, present):
            continue
        if rule["scope"] == "sentence":
            if sent_idx is None:
                by_sent: dict[int, list[_Hit]] = {}
                for h in hits:
                    by_sent.setdefault(h.sent, []).append(h)
                sent_idx = [_index(hs) for hs in by_sent.values()]
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


def _history_could_raise(current: _Single) -> bool:
    """Whether any context rule could raise this message, whatever the history holds."""
    rank = level_rank(current.assessment.level)
    return any(
        rule["rank"] > rank and not (rule["unless"] & current.concepts)
        and any(alt <= current.concepts for alt in rule["current"])
        for rule in _CTX_RULES
    )


def assess_rules(text: str, history: Sequence[str | Assessment] | Callable[[], Sequence] = ()) -> Assessment:
    """The rules and context alone (the lexicon engine). Assess one user message; ``history`` (earlier user messages, oldest first: texts, or their stored Assessments) can only raise.

    ``history`` may be a function that returns it: it is then called only when a context rule
    could use it (most messages have no concept a context rule reads), which saves the caller a
    database read."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    current = _assess_single(text, bool(history))
    result = current.assessment
    if not history or result.level == "explicit" or not _history_could_raise(current):
        return result
    if callable(history):
        history = history()
    # An earlier message is a text (read here by the rules) or an Assessment already made: the level
    # the app stored for it, which the learned model and the product's flag may have raised.
    past = [
        h if isinstance(h, Assessment) else _assess_single(h, False).assessment
        for h in list(history)[-_CTX_WINDOW:]
        if isinstance(h, Assessment) or (isinstance(h, str) and h.strip())
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


# --------------------------------------------------------------------------- model + rules + context

@lru_cache(maxsize=1)
def learned_model() -> RiskModel | None:
    """The trained model (data/model.json.gz), loaded on first use: about a second and 100 MB, which
    processes that never score with it (most commands, and the app while RISK_MODEL is off) skip."""
    return RiskModel.load()


def assess(text: str, history: Sequence[str] | Callable[[], Sequence[str]] = (), *, model=None) -> Assessment:
    """Assess one user message. With the learned model in use (settings.RISK_MODEL, or `model=True`
    here, or a RiskModel to use instead of the installed one), the model and the rules (with the conversation's context) each give a level and the
    higher one wins; without it, the rules alone decide.

    The signals say which part decided: `by:model` or `by:rules` (the rule ids and concepts
    follow), and always the model's own reading, `model:<level>:<score>` (score = the model's
    probability for that level or above). ``history`` is read only when a context rule could use it.
    """
    result = assess_rules(text, history)
    if model is None:
        from django.conf import settings

        model = getattr(settings, "RISK_MODEL", False)
    scorer = model if isinstance(model, RiskModel) else learned_model() if model else None
    if scorer is None:
        return result
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if not text.strip():
        return result
    scored = scorer.score(text, result.signals)
    reading = f"model:{scored.level}:{scored.score:.2f}"
    if level_rank(scored.level) > level_rank(result.level):
        return Assessment(scored.level, scored.category, ("by:model", reading) + result.signals)
    if result.level == "none":
        return Assessment("none", None, result.signals + (reading,))
    # Same level: the category is the model's, trained on today's policy (a threat to someone is
    # `violence`, a scam `property`), where the rules' older categories may differ.
    category = scored.category if scored.level == result.level else result.category
    return Assessment(result.level, category, ("by:rules",) + result.signals + (reading,))
