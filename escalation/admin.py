from django.contrib import admin

from .models import Incident, IncidentEvent


class IncidentEventInline(admin.TabularInline):
    model = IncidentEvent
    extra = 0
    can_delete = False
    fields = ("at", "kind", "actor_label", "data")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False  # the timeline is written by the application only


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("id", "product", "conversation", "level", "category", "status", "claimed_by", "opened_at")
    list_filter = ("status", "level", "category", "product")
    raw_id_fields = ("conversation", "claimed_by")
    readonly_fields = ("id", "opened_at")
    inlines = [IncidentEventInline]


@admin.register(IncidentEvent)
class IncidentEventAdmin(admin.ModelAdmin):
    list_display = ("incident", "at", "kind", "actor_label")
    list_filter = ("kind",)
    readonly_fields = ("incident", "at", "kind", "actor", "actor_label", "data")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Webhooks: read-only, since the outbox is written by the application and retried by the sweep.
from .models import WebhookAttempt, WebhookEvent  # noqa: E402  (appended section)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("at", "status_code", "error", "duration_ms", "response_excerpt")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("id", "product", "type", "status", "attempts", "created_at", "next_attempt_at", "delivered_at")
    list_filter = ("status", "type", "product")
    search_fields = ("id",)
    date_hierarchy = "created_at"
    fields = ("id", "product", "type", "status", "attempts", "created_at", "next_attempt_at", "locked_until",
              "queued_at", "delivered_at", "body")
    readonly_fields = fields
    inlines = [WebhookAttemptInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
