"""What the texts say. Never chat content: who, that it is urgent, a hotline, how to reach the service."""
import re

from django.conf import settings

from conversations.directives import hotlines

TEXTS = {
    "en": {
        "sms": "URGENT from {service}: {who} may be at risk right now and needs support. Please contact them "
               "straight away; in immediate danger call the emergency services. Crisis line: {hotline}.{callback}",
        "voice": "This is an urgent message from {service}. {who} may be at risk right now and needs support. "
                 "Please contact them straight away. In immediate danger, call the emergency services.",
        "page": "{service} console: an explicit incident ({incident}) could not reach any contact. "
                "Open {console} now.",
        "verify": "{service}: this number was given as an emergency contact. If you agree, confirm within {hours} "
                  "hours: {link} (otherwise ignore this text)",
        "reminder": "{service}: reminder: this number was given as an emergency contact. If you agree, confirm: "
                    "{link} (otherwise ignore this text)",
        "who": "{name}",
        "who_unknown": "a person who named you as their contact",
        "callback": " Call us: {number}.",
    },
    "zh": {
        "sms": "【紧急】{service}：{who}目前可能处于危险中，需要您的支持。请立即联系TA；如有紧急危险请拨打110或120。"
               "心理援助热线：{hotline}。{callback}",
        "voice": "这里是{service}的紧急通知。{who}目前可能处于危险中，需要您的支持。请立即联系TA。如有紧急危险，请拨打110或120。",
        "page": "{service}控制台：明确风险事件（{incident}）未能联系到任何联系人，请立即打开 {console}",
        "verify": "{service}：有用户将本号码登记为紧急联系人。如您同意，请在{hours}小时内确认：{link}（如不同意，请忽略本短信）",
        "reminder": "{service}：提醒：有用户将本号码登记为紧急联系人。如您同意，请确认：{link}（如不同意，请忽略本短信）",
        "who": "{name}",
        "who_unknown": "将您登记为紧急联系人的用户",
        "callback": "联系我们：{number}。",
    },
}


def _texts(locale):
    return TEXTS["zh" if (locale or "").lower().startswith("zh") else "en"]


# A first name is letters (any script), perhaps joined by a hyphen or apostrophe: a "name" with a
# link, digits or punctuation in it is an API caller's text, and no text carries that.
FIRST_NAME = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
# Verification texts go to numbers nobody has verified yet: only fixed wording, the service's
# name (set by the console's admins) and our own link; no name, no relationship, no caller's text.
FIXED_ONLY = ("verify", "reminder")


def who(end_user, texts) -> str:
    first_name = (end_user.first_name or "").strip().split(" ")[0]
    if FIRST_NAME.fullmatch(first_name):
        return texts["who"].format(name=first_name)
    return texts["who_unknown"]


def render(kind, end_user, **values) -> str:
    texts = _texts(end_user.locale)
    if kind in FIXED_ONLY:
        return texts[kind].format(service=end_user.product.name, hours=values["hours"], link=values["link"])
    lines = hotlines(end_user.region, end_user.locale)
    callback = texts["callback"].format(number=settings.SERVICE_CALLBACK_NUMBER) if settings.SERVICE_CALLBACK_NUMBER \
        else ""
    return texts[kind].format(
        service=end_user.product.name, who=who(end_user, texts), hotline=lines[0]["phone"] if lines else "",
        callback=callback, console=f"{settings.PUBLIC_BASE_URL}/console/", **values,
    )
