"""Risk recognition for user messages (Chinese and English).

Public API::

    LEVELS = ("none", "distress", "high_risk", "explicit")   # ascending severity
    level_rank(level) -> int
    Assessment(level, category, signals)
    assess(text, history=(), *, model=None) -> Assessment   # model: settings.RISK_MODEL unless given
    assess_rules(text, history=()) -> Assessment            # the lexicon alone
    learned_model() -> RiskModel | None                     # conversations.risk.model
    normalise(text) -> str

Levels: ``explicit`` - an intent, plan or act of suicide or self-harm now or soon, or an
explicit intent to seriously harm someone; ``high_risk`` - a tendency that threatens life,
health or property without an explicit plan; ``distress`` - extreme negative emotion without
such risk (including heavy emotional dependence on the AI); ``none`` - everything else.
Categories: suicide, self_harm, violence, property, dependency, other (None for level none).

See docs/risk.md. Word lists and rules are data in ``conversations/risk/data/``.
"""
from .engine import LEVELS, VERSION, Assessment, assess, assess_rules, learned_model, level_rank
from .normalise import normalise

__all__ = ["LEVELS", "VERSION", "Assessment", "assess", "assess_rules", "learned_model", "level_rank", "normalise"]
