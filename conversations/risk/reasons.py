"""Why a message got its level, for the operator: the assessment's signals as reasons in words.

The signals (engine.assess) are for engineers: rule ids, concept names such as `TIME` or
`negated:WANT`, `model:explicit:0.93`. The console shows these reasons instead: who decided (the
learned model or a phrase rule), how sure the model was, which rule fired, with an example of
what it matches. Each reason is a small dict that the console words in the operator's language
(static/console/incident.js); concept names are left out (they are the rules' inner parts).
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _examples() -> dict:
    from .engine import RULES

    examples = {rule["id"]: rule.get("doc", "") for rule in RULES["rules"]}
    examples.update({rule["id"]: rule.get("doc", "") for rule in RULES["context"]["rules"]})
    return examples


def words(rule_id: str) -> str:
    """`suicide_time_or_plan` → "suicide time or plan"; `ctx_distress_then_goodbye` → "distress then goodbye"."""
    return rule_id.removeprefix("ctx_").replace("_", " ")


def reasons(signals) -> list[dict]:
    """The reasons, in order: who decided, the model's reading, the rules that fired, the context.

    >>> reasons(["by:model", "model:explicit:0.93", "TIME", "context:ctx_distress_then_goodbye"])
    [{'kind': 'decided', 'by': 'model'}, {'kind': 'model', 'level': 'explicit', 'score': 0.93}, \
{'kind': 'context', 'rule': 'distress then goodbye', 'example': ''}]
    """
    examples = _examples()
    out, seen = [], set()
    for signal in signals or ():
        if not isinstance(signal, str) or signal in seen:
            continue
        seen.add(signal)
        if signal.startswith("by:"):
            out.append({"kind": "decided", "by": signal[3:]})
        elif signal.startswith("model:"):
            _, level, score = (signal.split(":") + ["", ""])[:3]
            try:
                out.append({"kind": "model", "level": level, "score": round(float(score), 2)})
            except ValueError:
                continue
        elif signal.startswith("context:"):
            rule = signal[len("context:"):]
            out.append({"kind": "context", "rule": words(rule), "example": examples.get(rule, "")})
        elif signal in examples:
            out.append({"kind": "rule", "rule": words(signal), "example": examples[signal]})
    return out
