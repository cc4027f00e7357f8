"""Stored message answers move to the new key form, message:<len>:<conversation>:<message>, so a
retry of a message answered before the upgrade still gets its first answer. The old form
(message:<conversation>:<message>) is ambiguous when ids hold ':'; the answer itself names both ids."""
from django.db import migrations


def rekey(apps, schema_editor):
    IdempotentRequest = apps.get_model("conversations", "IdempotentRequest")
    for row in IdempotentRequest.objects.filter(key__startswith="message:").iterator():
        try:
            conversation, message = row.response["conversation"]["id"], row.response["message"]["id"]
        except (KeyError, TypeError):
            continue  # not an answer this migration can read: it expires with the others
        if row.key == f"message:{conversation}:{message}":
            row.key = f"message:{len(conversation)}:{conversation}:{message}"
            row.save(update_fields=["key"])


class Migration(migrations.Migration):
    dependencies = [("conversations", "0005_usageday_without_messages")]
    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
