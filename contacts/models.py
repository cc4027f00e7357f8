from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords


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
    first_name = models.CharField(max_length=50, blank=True, help_text="Only ever used in texts to contacts.")
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
    # Retention and the user's rights (docs/audit-and-reports.md).
    legal_hold = models.BooleanField(default=False, help_text="Kept past the retention period; erasure refused.")
    erased_at = models.DateTimeField(null=True, blank=True, help_text="Erased at the product's request: an "
                                     "anonymous record kept for counts only.")
    # Final Measures Art. 16: the user's separate consent to train models on their messages, as the
    # product says (users API). Without it nothing of theirs is exported as training data.
    training_consent = models.BooleanField(default=False, help_text="Set by the product (users API): the user "
                                           "consented separately to their messages training the risk model.")

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
    history = HistoricalRecords()  # every change, by the API or an admin, with who and when

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self):
        return f"{self.name} ({self.kind})"


class Notification(models.Model):
    """One message to one person in an incident's emergency-contact chain (or a verification SMS).

    The row is written before anything is sent (so a crash never loses or repeats a send silently)
    and is the chain's truth; Celery only makes it fast, the periodic sweep makes it certain.
    """

    KINDS = [("sms", "SMS"), ("voice", "voice call"), ("page", "supervisor page"), ("verify", "verification SMS"),
             ("reminder", "verification reminder")]
    STATUSES = [
        ("pending", "pending"),      # due at next_attempt_at
        ("sending", "sending"),      # a worker holds it until locked_until
        ("sent", "sent"),            # accepted by the provider, delivery awaited until deliver_by
        ("delivered", "delivered"),
        ("failed", "failed"),        # refused, failed or undelivered: the chain moves on
        ("timed_out", "timed out"),  # no delivery report in time: the chain moves on
    ]
    FINAL = ("delivered", "failed", "timed_out")

    incident = models.ForeignKey("escalation.Incident", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="notifications")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications")
    staff = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    # Set on verification texts: what their hourly limit per product counts (the contact may be gone).
    product = models.ForeignKey("conversations.Product", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    kind = models.CharField(max_length=16, choices=KINDS)
    step = models.PositiveSmallIntegerField(default=0, help_text="Position in the incident's chain.")
    to_phone = models.CharField(max_length=20)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=STATUSES, default="pending")
    provider = models.CharField(max_length=16, blank=True)
    provider_sid = models.CharField(max_length=64, blank=True, db_index=True)
    provider_status = models.CharField(max_length=20, blank=True)
    error_code = models.CharField(max_length=20, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)
    # Handed to the broker at this time and not yet picked up: the sweep leaves it alone a while.
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    deliver_by = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # At most one message per step of a chain, however many workers race to send it.
            models.UniqueConstraint(fields=["incident", "step"], condition=models.Q(incident__isnull=False),
                                    name="one_notification_per_chain_step"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notification_due"),
            models.Index(fields=["status", "deliver_by"], name="notification_awaiting"),
            models.Index(fields=["to_phone", "created_at"], name="notification_to_phone_recent"),
        ]

    def __str__(self):
        return f"{self.kind} step {self.step} ({self.status})"


class ContactVerification(models.Model):
    """A one-time link texted to a minor's or elder's contact; opening and confirming it verifies them."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="verifications")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
