from argparse import ArgumentTypeError

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.core.validators import URLValidator

from conversations.models import ApiKey, Product


class Command(BaseCommand):
    help = "Create an API key for a product (creating the product if needed). The key is printed once."

    def add_arguments(self, parser):
        parser.add_argument("product")
        parser.add_argument("--webhook-url", default=None, type=self.url)
        parser.add_argument("--label", default="")

    @staticmethod
    def url(value):
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            raise ArgumentTypeError(f"not an http(s) URL: {value!r}")
        return value

    def handle(self, product, webhook_url, label, **options):
        row, created = Product.objects.get_or_create(name=product)
        if webhook_url is not None:
            row.webhook_url = webhook_url
            row.save(update_fields=["webhook_url"])
        api_key, key = ApiKey.issue(row, label=label)
        self.stdout.write(f"{'Created' if created else 'Existing'} product {row.name}; new key {api_key.prefix}…")
        self.stdout.write("Store this key now: it is not shown again.")
        self.stdout.write(key)
