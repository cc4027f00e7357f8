"""What the texts say. Never chat content: who, that it is urgent, a hotline, how to reach the service."""
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
        "verify": "{service}: you were named as the {relationship} contact of {who}. "
                  "Please confirm within {hours} hours: {link}",
        "reminder": "{service}: reminder, please confirm that you are the {relationship} contact of {who}: {link}",
        "who": "{name}",
        "who_unknown": "a person who named you as their contact",
        "who_unknown_verify": "one of our users",
        "callback": " Call us: {number}.",
    },
    "zh": {
        "sms": "【紧急】{service}：{who}目前可能处于危险中，需要您的支持。请立即联系TA；如有紧急危险请拨打110或120。"
               "心理援助热线：{hotline}。{callback}",
        "voice": "这里是{service}的紧急通知。{who}目前可能处于危险中，需要您的支持。请立即联系TA。如有紧急危险，请拨打110或120。",
        "page": "{service}控制台：明确风险事件（{incident}）未能联系到任何联系人，请立即打开 {console}",
        "verify": "{service}：{who}将您登记为紧急联系人（{relationship}）。请在{hours}小时内确认：{link}",
        "reminder": "{service}：提醒您确认是否同意作为{who}的紧急联系人（{relationship}）：{link}",
        "who": "{name}",
        "who_unknown": "将您登记为紧急联系人的用户",
        "who_unknown_verify": "一位用户",
        "callback": "联系我们：{number}。",
    },
}


def _texts(locale):
    return TEXTS["zh" if (locale or "").lower().startswith("zh") else "en"]


def who(end_user, texts, kind) -> str:
    first_name = (end_user.first_name or "").strip().split(" ")[0]
    if first_name:
        return texts["who"].format(name=first_name)
    return texts["who_unknown_verify" if kind in ("verify", "reminder") else "who_unknown"]


def render(kind, end_user, **values) -> str:
    texts = _texts(end_user.locale)
    lines = hotlines(end_user.region, end_user.locale)
    callback = texts["callback"].format(number=settings.SERVICE_CALLBACK_NUMBER) if settings.SERVICE_CALLBACK_NUMBER \
        else ""
    return texts[kind].format(
        service=end_user.product.name, who=who(end_user, texts, kind), hotline=lines[0]["phone"] if lines else "",
        callback=callback, console=f"{settings.PUBLIC_BASE_URL}/console/", **values,
    )
