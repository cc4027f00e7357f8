import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from conversations.models import CATEGORY_CHOICES, LEVEL_CHOICES


class StaffProfile(models.Model):
    """Which products' incidents an operator may see. Supervisors and admins see every product."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    products = models.ManyToManyField("conversations.Product", blank=True, related_name="operators")
    phone = models.CharField(max_length=20, blank=True, help_text="E.164; supervisors are paged here by SMS.")

    def __str__(self):
        return str(self.user)


class Incident(models.Model):
    """A conversation that needs human attention. At most one is active (not resolved) per conversation."""

    STATUS_CHOICES = [("open", "open"), ("claimed", "claimed"), ("returned", "returned"), ("resolved", "resolved")]
    OUTCOME_CHOICES = [
        ("safe", "safe"),
        ("contact_notified", "contact notified"),
        ("emergency_services", "emergency services called"),
        ("false_alarm", "false alarm"),
        ("other", "other"),
    ]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    product = models.ForeignKey("conversations.Product", on_delete=models.CASCADE, related_name="incidents")
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="incidents")
    level = models.CharField(max_length=16, choices=LEVEL_CHOICES)
    # Severity as a number, so the queue can order explicit first with an index.
    level_rank = models.PositiveSmallIntegerField(default=0)
    category = models.CharField(max_length=16, choices=CATEGORY_CHOICES, blank=True)
    reason = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default="open")
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    outcome = models.CharField(max_length=24, choices=OUTCOME_CHOICES, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    legal_hold = models.BooleanField(default=False, help_text="Kept past the retention period (and audited).")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"], condition=~Q(status="resolved"), name="one_active_incident_per_conversation"
            )
        ]
        indexes = [
            # The console's queue: everything not resolved, most severe first, then longest waiting.
            models.Index(fields=["status", "-level_rank", "opened_at"], name="incident_queue"),
            models.Index(fields=["product", "opened_at"], name="incident_product_time"),
        ]

    def __str__(self):
        return f"{self.level} {self.conversation} ({self.status})"


class IncidentEvent(models.Model):
    """Append-only timeline of an incident: who did what, when."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=40)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=100, blank=True, help_text="'product', 'console' or a username")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["incident", "id"], name="incident_event_order")]

    def __str__(self):
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Incident events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Incident events are append-only")


def new_webhook_event_id():
    return "evt_" + uuid.uuid4().hex


class WebhookEvent(models.Model):
    """The webhook outbox: one event for one product, written in the transaction that caused it.

    The row is the truth (the broker only makes delivery fast): the exact JSON sent on every
    attempt is `body`, and the periodic sweep re-queues whatever is pending and due.
    """

    STATUS_CHOICES = [("pending", "pending"), ("delivered", "delivered"), ("failed", "failed")]

    id = models.CharField(primary_key=True, max_length=40, default=new_webhook_event_id, editable=False)
    product = models.ForeignKey("conversations.Product", on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=64)
    body = models.TextField(help_text="The exact JSON sent on every attempt.")
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default="pending")
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A worker's claim on the row while it posts: no second worker posts the same event meanwhile.
    locked_until = models.DateTimeField(null=True, blank=True)
    # When the sweep last handed it to the broker, so it is not queued again every sweep.
    queued_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_event_due")]

    def __str__(self):
        return f"{self.id} {self.type} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST of a webhook event and how it ended (no more than 500 characters of the answer)."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=100, blank=True, help_text="The exception class when there was no answer.")
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.event_id} at {self.at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"


# --- Audit trail, retention, reports and the on-call roster (docs/audit-and-reports.md) ---------

class AuditRefused(Exception):
    """The audit trail is append-only: updates and deletes are refused (the retention purge excepted)."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditRefused("Audit entries are append-only")

    def delete(self):
        raise AuditRefused("Audit entries are append-only")

    def _purge_older_than(self, cutoff) -> int:
        """The one deletion path: the retention purge (escalation.retention). A raw DELETE, no signals."""
        return self.filter(at__lt=cutoff)._raw_delete(self.db)


class AuditEntry(models.Model):
    """One thing that happened, for the security assessment and the six-month log duty.

    Written by `escalation.audit.record` only. No message text and no full phone numbers in `data`.
    The actor and product are kept as plain ids (no database constraint), so deleting a staff user
    or a product never touches the trail.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True, help_text="'product:<name>', a username or 'console'")
    action = models.CharField(max_length=60)
    product = models.ForeignKey("conversations.Product", null=True, blank=True, on_delete=models.DO_NOTHING,
                                db_constraint=False, related_name="+")
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # What a legal hold is checked against (plain ids, no constraint: the trail outlives its subjects).
    incident_id = models.UUIDField(null=True, blank=True)
    end_user_id = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "audit entries"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["action", "at"], name="audit_action_time"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditRefused("Audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditRefused("Audit entries are append-only")


class DailyStat(models.Model):
    """Anonymous daily counts kept after the retention purge deletes the rows they were counted from.

    Written by `escalation.reports.rollup` just before a day is purged (a `RollupDay` marks it);
    reports read these for rolled-up days and count live rows for the others.
    """

    product = models.ForeignKey("conversations.Product", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    metric = models.CharField(max_length=60)
    value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["product", "day", "metric"], name="daily_stat_unique")]


class RollupDay(models.Model):
    """A day whose purgeable counts are in DailyStat (for every product)."""

    day = models.DateField(unique=True)
    rolled_at = models.DateTimeField(default=timezone.now)


class Shift(models.Model):
    """Who is on call when: an operator or a supervisor on shift."""

    ROLES = [("operator", "operator"), ("supervisor", "supervisor")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shifts")
    role = models.CharField(max_length=16, choices=ROLES, default="operator")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["ends_at", "starts_at"], name="shift_time")]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="shift_ends_after_start")]

    def __str__(self):
        return f"{self.user} ({self.role}) {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M}"


class ConsolePresence(models.Model):
    """One open console websocket: who is online. Written on connect, removed on disconnect."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=200, unique=True)
    connected_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)


class RolePolicy(models.Model):
    """Per staff role: whether its members must use two-factor authentication (TOTP, django-otp)."""

    ROLES = [("operator", "operator"), ("supervisor", "supervisor"), ("admin", "admin")]

    role = models.CharField(max_length=16, choices=ROLES, unique=True)
    require_two_factor = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "role policies"

    def __str__(self):
        return f"{self.role}: two-factor {'required' if self.require_two_factor else 'optional'}"
