"""Rules that differ by region (age bounds, break reminders), from settings."""
from django.conf import settings


def region_rules(region: str) -> dict:
    return {**settings.REGION_RULES_DEFAULT, **settings.REGION_RULES.get((region or "").upper(), {})}
