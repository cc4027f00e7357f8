import hashlib
import secrets

from django.db import models
from django.utils import timezone

LEVEL_CHOICES = [
    ("none", "none"),
    ("distress", "distress"),
    ("high_risk", "high risk"),
    ("explicit", "explicit"),
]
CATEGORY_CHOICES = [
    ("suicide", "suicide"),
    ("self_harm", "self-harm"),
    ("violence", "violence"),
    ("property", "property"),
    ("dependency", "dependency"),
    ("other", "other"),
]


class Product(models.Model):
    """A tenant: one AI companion service. Its keys see only its own data."""

    name = models.CharField(max_length=100, unique=True)
    webhook_url = models.URLField(blank=True)
    webhook_secret = models.CharField(max_length=64, default=secrets.token_hex, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.name


def hash_api_key(key: str) -> str:
    # Keys are long random tokens, so a fast unsalted hash is enough (no brute-forcing a
    # 256-bit secret); it keeps the per-request lookup cheap.
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(models.Model):
    PREFIX_LENGTH = 12  # "ek_" + 9 characters, shown again in the admin

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="api_keys")
    prefix = models.CharField(max_length=16, unique=True)
    hashed_key = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self):
        return f"{self.prefix}… ({self.product})"

    @classmethod
    def issue(cls, product, label=""):
        """Create a key and return (row, plaintext). The plaintext is never stored."""
        key = "ek_" + secrets.token_urlsafe(32)
        row = cls.objects.create(
            product=product, prefix=key[: cls.PREFIX_LENGTH], hashed_key=hash_api_key(key), label=label
        )
        return row, key


class Conversation(models.Model):
    MODE_CHOICES = [("ai", "ai"), ("human", "human")]

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="conversations")
    external_id = models.CharField(max_length=128)
    end_user = models.ForeignKey("contacts.EndUser", on_delete=models.CASCADE, related_name="conversations")
    mode = models.CharField(max_length=8, choices=MODE_CHOICES, default="ai")
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "external_id"], name="conversation_unique_per_product")
        ]

    def __str__(self):
        return self.external_id


class Message(models.Model):
    ROLE_CHOICES = [("user", "user"), ("assistant", "assistant"), ("operator", "operator")]
    SOURCE_CHOICES = [("console", "console"), ("product", "product")]

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    external_id = models.CharField(max_length=128)
    role = models.CharField(max_length=16, choices=ROLE_CHOICES)
    text = models.TextField()
    sent_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    # The assessment kept (the higher of the console's and the product's) and both inputs.
    level = models.CharField(max_length=16, choices=LEVEL_CHOICES, default="none")
    category = models.CharField(max_length=16, choices=CATEGORY_CHOICES, blank=True)
    assessment_source = models.CharField(max_length=8, choices=SOURCE_CHOICES, default="console")
    assessment = models.JSONField(default=dict, blank=True)
    operator = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "external_id"], name="message_unique_per_conversation")
        ]
        # Reading a conversation back in arrival order (the polling cursor is the row id).
        indexes = [models.Index(fields=["conversation", "id"], name="message_conversation_order")]

    def __str__(self):
        return f"{self.role}: {self.text[:40]}"


class IdempotentRequest(models.Model):
    """The first answer to a request with an idempotency key, replayed to identical retries."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE)
    key = models.CharField(max_length=300)
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["product", "key"], name="idempotency_key_unique")]


class ReplyTemplate(models.Model):
    """A preset reply (Measures Art. 11): comfort, encouragement to seek help, aid channels."""

    level = models.CharField(max_length=16, choices=LEVEL_CHOICES[1:], blank=True, help_text="Blank for hold and break texts.")
    kind = models.CharField(
        max_length=16,
        choices=[("reply", "reply"), ("hold", "hold for operator"), ("break", "suggest break"),
                 ("ai_identity", "AI identity notice"), ("dependence", "dependence reminder")],
        default="reply",
    )
    locale = models.CharField(max_length=16, help_text="Language code, e.g. en or zh-CN; 'en' is the fallback.")
    region = models.CharField(max_length=8, blank=True, help_text="Blank: every region.")
    text = models.TextField()
    active = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "level", "locale"], name="template_lookup")]

    def __str__(self):
        return f"{self.kind}/{self.level}/{self.locale}{'/' + self.region if self.region else ''}"


class Hotline(models.Model):
    region = models.CharField(max_length=8, help_text="ISO 3166 country code, e.g. CN or US.")
    locale = models.CharField(max_length=16, blank=True, help_text="Blank: every language.")
    name = models.CharField(max_length=200)
    phone = models.CharField(max_length=40)
    hours = models.CharField(max_length=40, default="24h")
    priority = models.PositiveSmallIntegerField(default=1)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["region", "priority", "id"]

    def __str__(self):
        return f"{self.region} {self.name} {self.phone}"


class HotlineReferral(models.Model):
    """A template reply that carried a hotline: the count California's annual report needs (SB 243)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL)
    level = models.CharField(max_length=16, choices=LEVEL_CHOICES)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["product", "created_at"], name="referral_product_time")]


class UsageDay(models.Model):
    """One end user's use on one local day: what the dependence level is computed from. Written
    only when one of these counts changes (a message that crosses a minute of continuous use, is
    sent late at night or says a dependence phrase), not for every message."""

    end_user = models.ForeignKey("contacts.EndUser", on_delete=models.CASCADE, related_name="usage_days")
    day = models.DateField()
    minutes = models.PositiveIntegerField(default=0)
    late_night_messages = models.PositiveIntegerField(default=0)  # runs of late-night messages: > 0 is what counts
    dependence_messages = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["end_user", "day"], name="usage_day_unique")]


class RiskFeedback(models.Model):
    """What an operator says the engine got wrong about one user message, and a supervisor's review.

    Written by escalation.feedback only (its `do_*` functions: one transaction each, audited). A
    confirmed label becomes training data (`manage.py export_risk_feedback`) only while the user has
    `training_consent` and is not erased (final Measures Art. 16); erasing the user deletes the row.
    """

    VERDICTS = [("not_risk", "not a risk"), ("missed_risk", "missed risk")]
    SOURCES = [("operator", "operator"), ("false_alarm", "false-alarm resolution")]
    STATES = [("proposed", "proposed"), ("confirmed", "confirmed"), ("rejected", "rejected")]
    STANDING = ("proposed", "confirmed")  # at most one of these per message

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="risk_feedback")
    # The incident the label was given on (plain context: the label is about the message).
    incident = models.ForeignKey("escalation.Incident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="risk_feedback")
    verdict = models.CharField(max_length=16, choices=VERDICTS)
    # The label proposed: `none` (and no category) for not a risk, the operator's pick for a missed risk.
    level = models.CharField(max_length=16, choices=LEVEL_CHOICES)
    category = models.CharField(max_length=16, choices=CATEGORY_CHOICES, blank=True)
    source = models.CharField(max_length=16, choices=SOURCES, default="operator")
    proposed_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=STATES, default="proposed")
    reviewed_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "risk feedback"
        verbose_name_plural = "risk feedback"
        constraints = [
            models.UniqueConstraint(fields=["message"], condition=models.Q(state__in=("proposed", "confirmed")),
                                    name="risk_feedback_one_standing_per_message"),
        ]
        indexes = [models.Index(fields=["state", "id"], name="risk_feedback_state")]

    def __str__(self):
        return f"{self.verdict} {self.level} ({self.state})"
class RiskReview(models.Model):
    """A user message waiting for (or given) the second stage's opinion: the outbox of RISK_BACKENDS.

    Written in the transaction that stores the message, only when backends are configured; a
    worker asks every backend, records what each said in `results`, and raises the message's level
    when one says higher (conversations.second_stage). The row is the truth: a lost dispatch or a
    killed worker is picked up by the sweep; a backend that keeps failing is given up on after
    MAX_ATTEMPTS, leaving the synchronous level (status `failed`, visible in the admin)."""

    STATUS_CHOICES = [("pending", "pending"), ("done", "done"), ("failed", "failed")]

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="risk_review")
    status = models.CharField(max_length=8, choices=STATUS_CHOICES, default="pending")
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)  # handed to the broker; cleared by a claim
    locked_until = models.DateTimeField(null=True, blank=True)  # a worker's lease
    claim = models.CharField(max_length=32, blank=True)  # the lease's token: which worker holds the row
    attempts = models.PositiveSmallIntegerField(default=0)
    # backend name -> {"level", "category", "ms"} once it answered; errors: backend name -> last error code.
    results = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=dict, blank=True)
    raised_to = models.CharField(max_length=16, choices=LEVEL_CHOICES, blank=True)  # blank: not raised
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "risk review (second stage)"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="risk_review_due")]

    def __str__(self):
        return f"review of message {self.message_id}: {self.status}"
