"""Default preset replies and hotlines. Admins edit them afterwards; verify hotlines before relying on them.

Safe-messaging rules: never mention methods, always offer a hotline, speak of hope and recovery.
"""
from django.db import migrations

TEMPLATES = [
    ("reply", "distress", "en", "I'm really sorry you're feeling this way. You don't have to go through it alone — "
     "talking to someone you trust, or to a counsellor, can help. I'm here to listen."),
    ("reply", "distress", "zh-CN", "听到你这么难受，我很心疼。你不必一个人扛着——和信任的人或专业的心理咨询师聊一聊会有帮助。我在这里听你说。"),
    ("reply", "high_risk", "en", "It sounds like you're carrying a lot of pain right now, and I'm glad you told me. "
     "You deserve support from a real person: the people at these lines are there for you any time, and things "
     "can get better with help."),
    ("reply", "high_risk", "zh-CN", "听起来你现在承受着很大的痛苦，谢谢你愿意告诉我。你值得得到真人的支持：下面的热线随时有人接听，"
     "有人帮助，情况是可以好起来的。"),
    ("reply", "explicit", "en", "I'm really concerned about your safety right now. Please reach out to one of these "
     "lines — they are free and there for you now. A member of our team is joining this conversation to be with you."),
    ("reply", "explicit", "zh-CN", "我现在非常担心你的安全。请马上拨打下面的热线，他们是免费的，此刻就能帮你。我们的工作人员正在加入对话，陪着你。"),
    ("hold", "", "en", "A member of our team is joining this conversation now. You are not alone."),
    ("hold", "", "zh-CN", "我们的工作人员正在加入对话，请稍等。你不是一个人。"),
    ("break", "", "en", "You've been chatting for a while. How about a short break — stretch, drink some water, "
     "and come back whenever you like?"),
    ("break", "", "zh-CN", "你已经连续聊了很久了，休息一下吧：起来活动活动，喝点水，随时欢迎回来。"),
]

HOTLINES = [
    ("CN", "", "全国心理援助热线 National psychological assistance hotline", "12356", "24h", 1),
    ("CN", "", "北京心理危机研究与干预中心 Beijing Psychological Crisis Intervention Center", "010-82951332", "24h", 2),
    ("CN", "", "希望24热线 Hope 24", "400-161-9995", "24h", 3),
    ("CN", "", "急救 Emergency (ambulance)", "120", "24h", 4),
    ("US", "", "988 Suicide & Crisis Lifeline (call or text)", "988", "24h", 1),
]


def seed(apps, schema_editor):
    ReplyTemplate = apps.get_model("conversations", "ReplyTemplate")
    Hotline = apps.get_model("conversations", "Hotline")
    ReplyTemplate.objects.bulk_create(
        ReplyTemplate(kind=kind, level=level, locale=locale, text=text) for kind, level, locale, text in TEMPLATES
    )
    Hotline.objects.bulk_create(
        Hotline(region=region, locale=locale, name=name, phone=phone, hours=hours, priority=priority)
        for region, locale, name, phone, hours, priority in HOTLINES
    )


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
