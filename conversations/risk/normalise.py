"""Text normalisation for risk matching.

Two forms are produced:

* ``normalise(text)`` - the readable normal form: NFKC (full-width -> ASCII), case folded,
  traditional -> simplified Chinese, format/zero-width characters removed, leetspeak inside
  words undone ("k!ll mys3lf" -> "kill myself"), letters spaced out to hide a word joined
  ("k i l l" -> "kill"), runs of 3+ identical characters cut to 2, and the aliases of
  ``data/normalise.json`` applied ("zs" -> "自杀", "unalive" -> "kill myself", "tonite" -> "tonight").
* ``matching_form(text)`` - what the automaton sees: the normal form with every doubled Latin
  letter collapsed ("kill" -> "kil", "feel" -> "fel"), so typos such as "kil myself" and
  "killlll" meet the same pattern. Patterns go through the same function when loaded.

Everything is table driven; tables are built once at import.
"""
from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

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
# one pass over all aliases with a combined regex would be faster, but aliases are few
_ALIAS_PREFILTER = re.compile("|".join(p.pattern for p, _ in _ALIASES)) if _ALIASES else None


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


def _strip_format(text: str) -> str:
    # zero-width joiners, BOM, bidi marks, variation selectors
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf" and not 0xFE00 <= ord(ch) <= 0xFE0F)


def normalise(text: str) -> str:
    """Readable normal form used for matching (see module docstring)."""
    if not text:
        return ""
    s = unicodedata.normalize("NFKC", text)
    s = _strip_format(s).casefold()
    s = s.translate(_EXTRA_CHARS).translate(_T2S)
    s = _TOKEN_RE.sub(_undo_leet, s)
    s = _SPACED_RE.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)), s)
    s = _RUN3_RE.sub(r"\1\1", s)
    s = _HYPHEN_RE.sub(" ", s)
    if _ALIAS_PREFILTER is not None and _ALIAS_PREFILTER.search(s):
        for pattern, dst in _ALIASES:
            s = pattern.sub(dst, s)
    s = _CJK_SPACE_RE.sub("", s)
    s = _WS_RE.sub(" ", s).strip()
    return s


def skeleton(normal: str) -> str:
    """Collapse doubled Latin letters: applied to both patterns and text."""
    return _DOUBLE_LATIN_RE.sub(r"\1", normal)


def matching_form(text: str) -> str:
    return skeleton(normalise(text))
