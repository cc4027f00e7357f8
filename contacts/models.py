from django.db import models
from django.utils import timezone


class EndUser(models.Model):
    """A user of a product's AI service, known by the product's own id."""

    AGE_GROUPS = [("minor", "minor"), ("adult", "adult"), ("elder", "elder")]
    REGISTRATION = [
        ("not_required", "not required"),
        ("pending_verification", "pending verification"),
        ("complete", "complete"),
        ("restricted", "restricted"),
    ]

    product = models.ForeignKey("conversations.Product", on_delete=models.CASCADE, related_name="end_users")
    external_id = models.CharField(max_length=128)
    birth_date = models.DateField(null=True, blank=True)
    age_group = models.CharField(max_length=8, choices=AGE_GROUPS, blank=True)
    locale = models.CharField(max_length=16, blank=True)
    region = models.CharField(max_length=8, blank=True)
    registration = models.CharField(max_length=24, choices=REGISTRATION, default="not_required")
    registration_deadline = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Continuous use (Measures Art. 18): the current stretch of activity and reminders given in it.
    usage_started_at = models.DateTimeField(null=True, blank=True)
    usage_last_at = models.DateTimeField(null=True, blank=True)
    usage_breaks_suggested = models.PositiveIntegerField(default=0)
    usage_ai_notices = models.PositiveIntegerField(default=0)
    # Emotional dependence on the AI (Measures Art. 18), from the last week of UsageDay rows.
    DEPENDENCE_LEVELS = [("none", "none"), ("low", "low"), ("medium", "medium"), ("high", "high")]
    dependence_level = models.CharField(max_length=8, choices=DEPENDENCE_LEVELS, default="none")
    dependence_reminded_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["product", "external_id"], name="end_user_unique_per_product")]

    def __str__(self):
        return self.external_id


class Contact(models.Model):
    """A guardian or emergency contact of an end user."""

    KINDS = [("guardian", "guardian"), ("emergency", "emergency contact")]

    end_user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=100)
    relationship = models.CharField(max_length=50, blank=True)
    kind = models.CharField(max_length=16, choices=KINDS)
    phone = models.CharField(max_length=20, help_text="E.164, e.g. +8613800138000")
    priority = models.PositiveSmallIntegerField(default=1)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self):
        return f"{self.name} ({self.kind})"
