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
