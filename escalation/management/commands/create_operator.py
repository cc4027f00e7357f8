from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from conversations.models import Product
from escalation.models import StaffProfile
from escalation.roles import ROLES, create_staff


class Command(BaseCommand):
    help = ("Create (or update) a staff member who can log in to the console. An operator sees only the "
            "products given with --product (repeatable); supervisors and admins see every product.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--role", choices=ROLES, default="operator")
        parser.add_argument("--product", action="append", default=[], metavar="NAME",
                            help="a product whose incidents this operator sees (repeat for more); "
                                 "given, it replaces the operator's products; omitted, they are kept")

    def handle(self, username, password, role, product, **options):
        if len(password) < 8:
            raise CommandError("The password must be at least 8 characters.")
        names = list(dict.fromkeys(product))
        products = list(Product.objects.filter(name__in=names))
        unknown = sorted(set(names) - {p.name for p in products})
        if unknown:
            known = ", ".join(Product.objects.order_by("name").values_list("name", flat=True)) or "none yet"
            raise CommandError(f"No product named {', '.join(unknown)} (products: {known}). "
                               "A product is created with: manage.py create_api_key <product>")
        with transaction.atomic():
            user = create_staff(username, password, role)
            profile, _ = StaffProfile.objects.get_or_create(user=user)
            if names:
                profile.products.set(products)
            assigned = sorted(profile.products.values_list("name", flat=True))
        self.stdout.write(f"{role} {username} can log in at /accounts/login/")
        if role != "operator":
            self.stdout.write(f"A {role} sees every product.")
        elif assigned:
            self.stdout.write(f"Sees the incidents of: {', '.join(assigned)}")
        else:
            self.stdout.write(self.style.WARNING(
                f"{username} is assigned no product and will see an empty queue: run this again with "
                "--product NAME, or assign products in the admin (Staff profiles)."))
