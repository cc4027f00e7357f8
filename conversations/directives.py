"""Directives: what the product must do next, built from the admin-editable templates and hotlines."""
import re

from .models import Hotline, ReplyTemplate

# When a region has no hotline of its own, the language decides (zh -> China, otherwise the US's 988).
FALLBACK_REGION_BY_LANGUAGE = {"zh": "CN"}
FALLBACK_REGION = "US"


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def _language(locale: str) -> str:
    return (locale or "en").split("-")[0].split("_")[0].lower()


def template_text(kind: str, level: str, locale: str, region: str) -> str:
    """The best template: exact locale, then same language, then English; a regional one first."""
    rows = list(ReplyTemplate.objects.filter(kind=kind, level=level, active=True).values("locale", "region", "text"))
    language = _language(locale)

    def rank(row):
        row_locale = row["locale"].lower()
        if row_locale == (locale or "").lower():
            by_locale = 0
        elif _language(row_locale) == language:
            by_locale = 1
        elif _language(row_locale) == "en":
            by_locale = 2
        else:
            by_locale = 3
        by_region = 0 if row["region"] and row["region"].upper() == (region or "").upper() else 1
        if row["region"] and by_region:
            return (9, 9)  # a template for another region never applies
        return (by_locale, by_region)

    best = min(rows, key=rank, default=None)
    return best["text"] if best and rank(best) != (9, 9) else ""


def hotlines(region: str, locale: str) -> list[dict]:
    language = _language(locale)
    region = (region or "").upper() or FALLBACK_REGION_BY_LANGUAGE.get(language, FALLBACK_REGION)
    rows = [
        h for h in Hotline.objects.filter(region=region, active=True)
        if not h.locale or _language(h.locale) == language
    ]
    if not rows and region != FALLBACK_REGION_BY_LANGUAGE.get(language, FALLBACK_REGION):
        return hotlines(FALLBACK_REGION_BY_LANGUAGE.get(language, FALLBACK_REGION), locale)
    return [{"name": h.name, "phone": h.phone, "hours": h.hours} for h in rows]


def message_language(text: str) -> str:
    """"zh" when the message is mostly Chinese (more Chinese characters than Latin words), else
    "en" when it has Latin words, else "" (emoji, digits: nothing to go by)."""
    chinese = len(_CJK.findall(text or ""))
    latin = len(_LATIN_WORD.findall(text or ""))
    if chinese and chinese >= latin:
        return "zh"
    return "en" if latin else ""


def for_assessment(level, *, end_user, mode, incident=None, usage=None, text="") -> list[dict]:
    """The directives for a user message (or a flag) at `level` in a conversation in `mode`.

    `usage` (conversations.usage.Usage) adds the break, AI-identity and dependence reminders.
    The user's locale picks the templates' language; a user registered without one is answered
    in the language of the message itself (`text`), so a Chinese message gets a Chinese reply.
    """
    locale, region = end_user.locale or message_language(text), end_user.region
    directives = []
    if level != "none" and mode == "ai":
        directives.append({
            "type": "reply_with_template",
            "text": template_text("reply", level, locale, region),
            "resources": hotlines(region, locale),
        })
    if mode == "human" or level == "explicit":
        directives.append({
            "type": "hold_for_operator",
            "incident": str(incident.pk) if incident else None,
            "text": template_text("hold", "", locale, region),
        })
    if usage and mode == "ai":
        for due, kind, directive in (
            (usage.break_due, "break", "suggest_break"),
            (usage.ai_notice_due, "ai_identity", "remind_ai_identity"),
            (usage.dependence_reminder_due, "dependence", "dependence_reminder"),
        ):
            if due:
                directives.append({"type": directive, "text": template_text(kind, "", locale, region)})
    return directives


def carries_hotline(directives: list[dict]) -> bool:
    return any(d["type"] == "reply_with_template" and d.get("resources") for d in directives)
