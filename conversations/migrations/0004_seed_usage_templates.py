from django.db import migrations

TEMPLATES = [
    ("ai_identity", "en", "A reminder: you are chatting with an AI, not a person."),
    ("ai_identity", "zh-CN", "温馨提示：与你聊天的是人工智能，不是真人。"),
    ("dependence", "en", "I'm glad our chats help. It could also be good to share some of this with people "
     "around you — a friend, family member or counsellor — who can be there in person."),
    ("dependence", "zh-CN", "很高兴我们的聊天对你有帮助。也试着和身边的朋友、家人或心理咨询师聊聊吧，他们能真正陪在你身边。"),
]


def seed(apps, schema_editor):
    ReplyTemplate = apps.get_model("conversations", "ReplyTemplate")
    ReplyTemplate.objects.bulk_create(
        ReplyTemplate(kind=kind, level="", locale=locale, text=text) for kind, locale, text in TEMPLATES
    )


class Migration(migrations.Migration):
    dependencies = [("conversations", "0003_alter_replytemplate_kind_hotlinereferral_usageday")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
