"""Text normalisation for risk matching.

Two forms are produced:

* ``normalise(text)`` - the readable normal form: NFKC (full-width -> ASCII), case folded,
  traditional -> simplified Chinese, format/zero-width characters removed, leetspeak inside
  words undone ("k!ll mys3lf" -> "kill myself"), letters spaced out to hide a word joined
  ("k i l l" -> "kill"), starred-out risk words restored ("k*ll" -> "kill", from ``masked_words``),
  runs of 3+ identical characters cut to 2, and the aliases of
  ``data/normalise.json`` applied ("zs" -> "自杀", "unalive" -> "kill myself", "tonite" -> "tonight").
* ``matching_form(text)`` - what the automaton sees: the normal form with every doubled Latin
  letter collapsed ("kill" -> "kil", "feel" -> "fel"), so typos such as "kil myself" and
  "killlll" meet the same pattern. Patterns go through the same function when loaded.

Everything is table driven; tables are built once at import.
"""
from __future__ import annotations

import itertools
import json
import re
import unicodedata
from pathlib import Path

import ahocorasick

DATA_DIR = Path(__file__).resolve().parent / "data"

with open(DATA_DIR / "normalise.json", encoding="utf-8") as fh:
    _CONF = json.load(fh)

NORMALISE_VERSION = _CONF["version"]


def _load_t2s_table() -> dict[int, str]:
    """Character-level traditional -> simplified table from OpenCC's own dictionaries.

    Character-level conversion (first candidate) is all that matching needs and runs as a
    single ``str.translate`` - about 100x faster than OpenCC's phrase segmentation.
    """
    table: dict[int, str] = {}
    try:
        import opencc  # opencc-python-reimplemented

        dict_dir = Path(opencc.__file__).resolve().parent / "dictionary"
        for name in ("TSCharacters.txt", "TWVariantsRev.txt", "HKVariantsRev.txt"):
            path = dict_dir / name
            if not path.exists():
                continue
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    parts = line.rstrip("\n").split("\t")
                    if len(parts) < 2 or len(parts[0]) != 1:
                        continue
                    target = parts[1].split(" ")[0]
                    if len(target) == 1 and ord(parts[0]) not in table:
                        table[ord(parts[0])] = target
        # TWVariantsRev maps to traditional forms; chain them through TSCharacters once more.
        for key, value in list(table.items()):
            nxt = table.get(ord(value))
            if nxt and nxt != value:
                table[key] = nxt
        # A character that is already a simplified target stays as it is: the variant tables
        # would otherwise turn 吃 into 喫 and 么 into 幺, and regex patterns would miss them.
        # GB2312 holds only standard simplified characters: those are never rewritten.
        for key in list(table):
            try:
                chr(key).encode("gb2312")
            except UnicodeEncodeError:
                continue
            del table[key]
    except Exception:  # pragma: no cover - OpenCC missing: fall back to the small table
        pass
    for trad, simp in _CONF.get("extra_t2s", {}).items():
        table[ord(trad)] = simp
    return table


_T2S = _load_t2s_table()
_EXTRA_CHARS = {ord(k): v for k, v in _CONF["char_map"].items()}
_LEET = _CONF["leet"]
_LEET_CHARS = re.escape("".join(_LEET))
_TOKEN_RE = re.compile(r"[a-z0-9" + _LEET_CHARS + r"]+")
_SPACED_RE = re.compile(r"(?<![a-z0-9])[a-z](?:[ .\-_*][a-z]){3,}(?![a-z0-9])")
_RUN3_RE = re.compile(r"([^\d])\1{2,}")
_DOUBLE_LATIN_RE = re.compile(r"([a-z])\1+")
_WS_RE = re.compile(r"\s+")
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_CJK_SPACE_RE = re.compile(r"(?<=[" + _CJK + r"])\s+(?=[" + _CJK + r"])")
_HYPHEN_RE = re.compile(r"(?<=[a-z])[-_](?=[a-z])")


def _compile_aliases(items):
    out = []
    for src, dst in sorted(items.items(), key=lambda kv: -len(kv[0])):
        src_n = src.lower()
        if re.search(r"[a-z0-9]", src_n[:1] or ""):
            left = r"(?<![a-z0-9])"
        else:
            left = ""
        if re.search(r"[a-z0-9]", src_n[-1:] or ""):
            right = r"(?![a-z0-9])"
        else:
            right = ""
        body = "".join(
            re.escape(ch) + "+" if "a" <= ch <= "z" else (r"\s*" if ch == " " else re.escape(ch)) for ch in src_n
        )  # letters may be repeated: "kmsss", "zzs"
        out.append((re.compile(left + body + right), dst))
    return out


_ALIASES = _compile_aliases(_CONF["aliases"])


def _build_alias_probe():
    """An Aho-Corasick automaton over the alias sources with spaces removed and doubled
    letters collapsed: one C-level pass over the text finds which alias regexes can apply,
    so a message runs only those few instead of one large alternation."""
    automaton = ahocorasick.Automaton()
    keys: dict[str, list[int]] = {}
    for i, (src, _dst) in enumerate(sorted(_CONF["aliases"].items(), key=lambda kv: -len(kv[0]))):
        key = _DOUBLE_LATIN_RE.sub(r"\1", _WS_RE.sub("", src.lower()))
        keys.setdefault(key, []).append(i)
    for key, idxs in keys.items():
        automaton.add_word(key, tuple(idxs))
    if keys:
        automaton.make_automaton()
    return automaton if keys else None


_ALIAS_PROBE = _build_alias_probe()


def _apply_aliases(s: str) -> str:
    for _round in range(2):  # a second round catches an alias produced by another one
        probe = _DOUBLE_LATIN_RE.sub(r"\1", _WS_RE.sub("", s))
        found: set[int] = set()
        for _end, idxs in _ALIAS_PROBE.iter(probe):
            found.update(idxs)
        if not found:
            return s
        changed = False
        for i in sorted(found):  # the same order as the table: longest source first
            pattern, dst = _ALIASES[i]
            new = pattern.sub(dst, s)
            if new != s:
                s, changed = new, True
        if not changed:
            return s
    return s


def _undo_leet(match: re.Match) -> str:
    tok = match.group(0)
    letters = [i for i, ch in enumerate(tok) if "a" <= ch <= "z"]
    if len(letters) < 2 or len(letters) == len(tok):
        return tok
    first, last = letters[0], letters[-1]
    chars = list(tok)
    for i in range(first + 1, last):
        rep = _LEET.get(chars[i])
        if rep:
            chars[i] = rep
    return "".join(chars)


def _format_chars() -> dict[int, None]:
    # zero-width joiners, BOM, bidi marks (category Cf) and variation selectors
    out = {}
    for cp in itertools.chain(range(0x10000), range(0xE0000, 0xE1000)):
        if unicodedata.category(chr(cp)) == "Cf" or 0xFE00 <= cp <= 0xFE0F:
            out[cp] = None
    return out


# one table for everything that is a character-for-character rewrite after NFKC and casefold:
# format characters removed, quote variants unified, traditional -> simplified
_CHAR_TABLE = {**_T2S, **_EXTRA_CHARS, **_format_chars()}
_ASCII_REWRITE = re.compile("[" + re.escape("".join(chr(k) for k in _CHAR_TABLE if k < 128) or "\x00") + "]")
# a text worth a leet pass has a leet character between two letters, with only digits or other
# leet characters around it ("k!ll", "mys3lf", "su1c1de"): exactly the tokens _undo_leet changes
_LEET_HINT_RE = re.compile(r"[a-z][0-9" + _LEET_CHARS + r"]*[" + _LEET_CHARS + r"][0-9" + _LEET_CHARS + r"]*[a-z]")
_SPACED_HINT_RE = re.compile(r"(?<![a-z0-9])[a-z][ .\-_*][a-z][ .\-_*][a-z]")


def has_traditional(text: str) -> bool:
    """Whether the text has a traditional Chinese character (one the table rewrites; standard
    simplified characters never are). For labelling a message's language (the feedback export)."""
    return not text.isascii() and any(ord(ch) in _T2S for ch in text)


def _strip_format(text: str) -> str:
    return text.translate(_CHAR_TABLE) if not text.isascii() else text


_MASKED_WORDS = tuple(_CONF.get("masked_words", ()))
_MASKED_RE = re.compile(r"(?<![a-z0-9*])[a-z]*\*+[a-z*]*(?![a-z0-9])")


def _unmask(match: re.Match) -> str:
    """A word with letters starred out ("k*ll", "su*c*de", "d**e") becomes the risk word of
    ``masked_words`` it can only be: same length, every visible letter in place."""
    tok = match.group(0)
    if tok.strip("*") == "" or len(tok) < 3:
        return tok
    for word in _MASKED_WORDS:
        if len(word) == len(tok) and all(c == "*" or c == w for c, w in zip(tok, word)):
            return word
    return tok


def normalise(text: str) -> str:
    """Readable normal form used for matching (see module docstring)."""
    if not text:
        return ""
    if text.isascii():
        s = text.lower()  # NFKC and casefold change nothing here but case
        if _ASCII_REWRITE.search(s):
            s = s.translate(_CHAR_TABLE)
    else:
        s = unicodedata.normalize("NFKC", text).casefold().translate(_CHAR_TABLE)
    if _LEET_HINT_RE.search(s):
        s = _TOKEN_RE.sub(_undo_leet, s)
    if "*" in s and _MASKED_WORDS:
        s = _MASKED_RE.sub(_unmask, s)
    if _SPACED_HINT_RE.search(s):
        s = _SPACED_RE.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)), s)
    s = _RUN3_RE.sub(r"\1\1", s)
    if "-" in s or "_" in s:
        s = _HYPHEN_RE.sub(" ", s)
    if _ALIAS_PROBE is not None:
        s = _apply_aliases(s)
    if not s.isascii():
        s = _CJK_SPACE_RE.sub("", s)
    s = _WS_RE.sub(" ", s).strip()
    return s


def skeleton(normal: str) -> str:
    """Collapse doubled Latin letters: applied to both patterns and text."""
    return _DOUBLE_LATIN_RE.sub(r"\1", normal)


def matching_form(text: str) -> str:
    return skeleton(normalise(text))
