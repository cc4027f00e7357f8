"""The demo that `make run` prints: an operator login and an API key, the same on every start.

The demo staff are created only when absent: a password changed after the first start stays
changed (the banner then says so instead of printing the old one), and nobody's role is reset.
The demo operator is assigned to the demo product on every start, since operators see only
their products' incidents (and earlier seeds left it with none).
"""
import os

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from conversations.models import ApiKey, Product, hash_api_key
from escalation.models import StaffProfile
from escalation.roles import create_staff

DEMO_PRODUCT = "demo"
DEMO_OPERATOR = ("operator", "operator-demo")
DEMO_SUPERVISOR = ("supervisor", "supervisor-demo")


class Command(BaseCommand):
    help = "Create the demo product, its API key and demo staff (idempotent; for local use only)."

    def handle(self, **options):
        operator = self.staff(*DEMO_OPERATOR, role="operator")
        supervisor = self.staff(*DEMO_SUPERVISOR, role="supervisor")
        product, _ = Product.objects.get_or_create(name=DEMO_PRODUCT)
        StaffProfile.objects.get_or_create(user=operator)[0].products.add(product)
        key_file = settings.VAR_DIR / "demo_api_key"
        key = key_file.read_text().strip() if key_file.exists() else ""
        if not key or not ApiKey.objects.filter(hashed_key=hash_api_key(key), revoked_at=None).exists():
            # The key is kept in var/ (a local, git-ignored folder) so restarts keep the same demo key.
            _, key = ApiKey.issue(product, label="demo")
            key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Created 0600, never readable by others even for a moment (a write-then-chmod would be).
            with os.fdopen(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
                out.write(key + "\n")
            key_file.chmod(0o600)  # a file from an older seed may have been created wider
        self.stdout.write(f"supervisor: {self.login(supervisor, DEMO_SUPERVISOR[1])}")
        self.stdout.write(f"login: {self.login(operator, DEMO_OPERATOR[1])}")
        self.stdout.write(f"api key: {key}")

    @staticmethod
    def staff(username, password, role):
        user = User.objects.filter(username=username).first()
        return user if user is not None else create_staff(username, password, role)

    @staticmethod
    def login(user, demo_password):
        return f"{user.username} / {demo_password if user.check_password(demo_password) else '(changed)'}"
