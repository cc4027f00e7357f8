"""The demo that `make run` prints: an operator login and an API key, the same on every start."""
from django.conf import settings
from django.core.management.base import BaseCommand

from conversations.models import ApiKey, Product, hash_api_key
from escalation.roles import create_staff

DEMO_PRODUCT = "demo"
DEMO_OPERATOR = ("operator", "operator-demo")
DEMO_SUPERVISOR = ("supervisor", "supervisor-demo")


class Command(BaseCommand):
    help = "Create the demo product, its API key and demo staff (idempotent; for local use only)."

    def handle(self, **options):
        create_staff(*DEMO_OPERATOR, role="operator")
        create_staff(*DEMO_SUPERVISOR, role="supervisor")
        product, _ = Product.objects.get_or_create(name=DEMO_PRODUCT)
        key_file = settings.VAR_DIR / "demo_api_key"
        key = key_file.read_text().strip() if key_file.exists() else ""
        if not key or not ApiKey.objects.filter(hashed_key=hash_api_key(key), revoked_at=None).exists():
            # The key is kept in var/ (a local, git-ignored folder) so restarts keep the same demo key.
            _, key = ApiKey.issue(product, label="demo")
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(key + "\n")
            key_file.chmod(0o600)
        self.stdout.write(f"supervisor: {DEMO_SUPERVISOR[0]} / {DEMO_SUPERVISOR[1]}")
        self.stdout.write(f"login: {DEMO_OPERATOR[0]} / {DEMO_OPERATOR[1]}")
        self.stdout.write(f"api key: {key}")
