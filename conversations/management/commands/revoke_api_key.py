from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from conversations.models import ApiKey


class Command(BaseCommand):
    help = ("Revoke an API key by its prefix (shown by create_api_key and the admin). To rotate: create a "
            "new key, deploy it, then revoke the old one; --in-minutes keeps the old key working meanwhile.")

    def add_arguments(self, parser):
        parser.add_argument("prefix")
        parser.add_argument("--in-minutes", type=int, default=0, help="Revoke this many minutes from now.")

    def handle(self, prefix, in_minutes, **options):
        api_key = ApiKey.objects.select_related("product").filter(prefix=prefix).first()
        if api_key is None:
            raise CommandError(f"No API key with prefix {prefix!r}.")
        api_key.revoked_at = timezone.now() + timedelta(minutes=max(in_minutes, 0))
        api_key.save(update_fields=["revoked_at"])  # every web process refuses it from now (conversations.auth.is_live)
        when = f"{api_key.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
        self.stdout.write(f"Key {api_key.prefix}… of {api_key.product} stops working at {when}.")
