from django.contrib import admin

from escalation.audit import AuditedAdmin

from .models import ApiKey, Conversation, Hotline, Message, Product, ReplyTemplate, RiskReview


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("prefix", "label", "created_at", "revoked_at")
    readonly_fields = ("prefix", "created_at")
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # keys are issued with `manage.py create_api_key`, which shows the key once


@admin.register(Product)
class ProductAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("name", "webhook_url", "created_at")
    search_fields = ("name",)
    inlines = [ApiKeyInline]


@admin.register(Conversation)
class ConversationAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("external_id", "product", "end_user", "mode", "last_message_at")
    list_filter = ("mode", "product")
    search_fields = ("external_id",)
    raw_id_fields = ("end_user",)


@admin.register(Message)
class MessageAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("external_id", "conversation", "role", "level", "category", "assessment_source", "received_at")
    list_filter = ("level", "role", "assessment_source")
    search_fields = ("external_id", "conversation__external_id")
    raw_id_fields = ("conversation", "operator")


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("kind", "level", "locale", "region", "active", "text")
    list_filter = ("kind", "level", "locale", "active")
    list_editable = ("active",)


@admin.register(Hotline)
class HotlineAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("region", "locale", "name", "phone", "hours", "priority", "active")
    list_filter = ("region", "active")


@admin.register(RiskReview)
class RiskReviewAdmin(AuditedAdmin, admin.ModelAdmin):
    """The second stage's reviews (RISK_BACKENDS): what each backend said, errors, give-ups. Read-only;
    no message text here (the message's own page has it)."""

    list_display = ("message_id", "status", "raised_to", "attempts", "errors", "created_at", "finished_at")
    list_filter = ("status", "raised_to")
    search_fields = ("message__external_id", "message__conversation__external_id")
    fields = ("message", "status", "raised_to", "attempts", "results", "errors", "created_at", "next_attempt_at",
              "queued_at", "locked_until", "finished_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
