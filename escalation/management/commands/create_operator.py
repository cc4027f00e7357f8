from django.core.management.base import BaseCommand, CommandError

from escalation.roles import ROLES, create_staff


class Command(BaseCommand):
    help = "Create (or update) a staff member who can log in to the console."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--role", choices=ROLES, default="operator")

    def handle(self, username, password, role, **options):
        if len(password) < 8:
            raise CommandError("The password must be at least 8 characters.")
        create_staff(username, password, role)
        self.stdout.write(f"{role} {username} can log in at /accounts/login/")
