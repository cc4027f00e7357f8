from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit
from .audit import AuditedAdmin
from .models import (AuditEntry, Incident, IncidentEvent, RolePolicy, Shift, StaffProfile, WebhookAttempt,
                     WebhookEvent)


class ReadOnlyAdmin:
    """For what only the application writes (timelines, the audit trail, outboxes): view, never edit."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class IncidentEventInline(ReadOnlyAdmin, admin.TabularInline):
    model = IncidentEvent
    extra = 0
    fields = ("at", "kind", "actor_label", "data")
    readonly_fields = fields


@admin.register(Incident)
class IncidentAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("id", "product", "conversation", "level", "category", "status", "claimed_by", "opened_at")
    list_filter = ("status", "level", "category", "product", "legal_hold")
    raw_id_fields = ("conversation", "claimed_by")
    readonly_fields = ("id", "opened_at")
    inlines = [IncidentEventInline]


@admin.register(IncidentEvent)
class IncidentEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("incident", "at", "kind", "actor_label")
    list_filter = ("kind",)
    readonly_fields = ("incident", "at", "kind", "actor", "actor_label", "data")


class WebhookAttemptInline(ReadOnlyAdmin, admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    fields = ("at", "status_code", "error", "duration_ms", "response_excerpt")
    readonly_fields = fields


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """The outbox is written by the application and retried by the sweep."""

    list_display = ("id", "product", "type", "status", "attempts", "created_at", "next_attempt_at", "delivered_at")
    list_filter = ("status", "type", "product")
    search_fields = ("id",)
    date_hierarchy = "created_at"
    fields = ("id", "product", "type", "status", "attempts", "created_at", "next_attempt_at", "locked_until",
              "queued_at", "delivered_at", "body")
    readonly_fields = fields
    inlines = [WebhookAttemptInline]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("at", "actor_label", "action", "product", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("actor_label", "object_id")
    date_hierarchy = "at"
    readonly_fields = ("at", "actor", "actor_label", "action", "product", "object_type", "object_id", "incident_id",
                       "end_user_id", "data")
    fields = readonly_fields


@admin.register(Shift)
class ShiftAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("user", "role", "starts_at", "ends_at", "note")
    list_filter = ("role", "user")
    date_hierarchy = "starts_at"
    raw_id_fields = ("user",)


@admin.register(StaffProfile)
class StaffProfileAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("user", "phone")
    filter_horizontal = ("products",)


@admin.register(RolePolicy)
class RolePolicyAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("role", "require_two_factor")
    list_editable = ("require_two_factor",)


# Staff accounts and roles (groups): changes to who may see what are audited like everything else.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedAdmin, UserAdmin):
    actions = ["remove_two_factor_devices"]

    @admin.action(description=_("Remove two-factor devices (lost phone)"), permissions=["change"])
    def remove_two_factor_devices(self, request, queryset):
        """A lost phone: the user cannot verify, so cannot add a new authenticator themselves
        (escalation/two_factor.py). Deleting their devices ends every session verified with them
        (pages and socket) and sends them to set-up at the next login, where a password alone
        enrols a new app: tell them to log in soon, and mind who knows the password."""
        with transaction.atomic():
            for user in queryset:
                devices = list(devices_for_user(user, confirmed=None))
                for device in devices:
                    device.delete()
                audit.record("two_factor.reset", actor=request.user, obj=user, devices=len(devices))
        self.message_user(request, _("Two-factor devices removed; each user sets up a new app at their next login."),
                          messages.SUCCESS)


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdmin, GroupAdmin):
    pass


# django-otp's and django-axes's own admins, audited: removing a device is a two-factor reset, and
# deleting a login attempt is an unlock (docs/operations.md, "Staff sign-in").
admin.site.unregister(TOTPDevice)
admin.site.unregister(AccessAttempt)


@admin.register(TOTPDevice)
class AuditedTOTPDeviceAdmin(AuditedAdmin, TOTPDeviceAdmin):
    pass


@admin.register(AccessAttempt)
class AuditedAccessAttemptAdmin(AuditedAdmin, AccessAttemptAdmin):
    def log_deletions(self, request, queryset):
        entries = super().log_deletions(request, queryset)
        for attempt in queryset:
            audit.record("login.unlocked", actor=request.user, username=attempt.username,
                         failures=attempt.failures_since_start)
        return entries
