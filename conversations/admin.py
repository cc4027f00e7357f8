from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from escalation import feedback as risk_feedback
from escalation.audit import AuditedAdmin

from .models import ApiKey, Conversation, Hotline, Message, Product, ReplyTemplate, RiskFeedback, RiskReview


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


@admin.register(RiskFeedback)
class RiskFeedbackAdmin(admin.ModelAdmin):
    """Supervisors and admins review the labels operators proposed (docs/risk.md, "Feedback loop"):
    nothing here is edited by hand; the bulk actions confirm or reject (escalation.feedback.do_review,
    audited). Operators have no access; they propose in the console."""

    list_display = ("id", "message_text", "was", "verdict", "level", "category", "source", "product", "proposed_by",
                    "proposed_at", "state", "reviewed_by", "reviewed_at")
    list_filter = ("state", "verdict", "source", "level", ("message__conversation__product", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("message__conversation__product", "proposed_by", "reviewed_by")
    actions = ["confirm_selected", "reject_selected"]
    fields = ("message_text", "was", "verdict", "level", "category", "source", "incident", "proposed_by", "proposed_at",
              "state", "reviewed_by", "reviewed_at")
    readonly_fields = fields

    def _reviewer(self, request):
        return request.user.is_active and request.user.is_staff and risk_feedback.may_review(request.user)

    def has_module_permission(self, request):
        return self._reviewer(request)

    def has_view_permission(self, request, obj=None):
        return self._reviewer(request)

    def has_review_permission(self, request):
        return self._reviewer(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a label goes with its message (erasure, retention) or is rejected, never deleted here

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description=_("message"))
    def message_text(self, feedback):
        return feedback.message.text

    @admin.display(description=_("engine said"))
    def was(self, feedback):
        message = feedback.message
        return f"{message.level} ({message.category})" if message.category else message.level

    @admin.display(description=_("product"))
    def product(self, feedback):
        return feedback.message.conversation.product

    @admin.action(description=_("Confirm selected labels (training data, where the user consents)"),
                  permissions=["review"])
    def confirm_selected(self, request, queryset):
        self._review(request, queryset, "confirmed")

    @admin.action(description=_("Reject selected labels"), permissions=["review"])
    def reject_selected(self, request, queryset):
        self._review(request, queryset, "rejected")

    def _review(self, request, queryset, state):
        counts = risk_feedback.do_review(request.user, queryset.values_list("pk", flat=True), state)
        done = _("Labels confirmed: %(count)d.") if state == "confirmed" else _("Labels rejected: %(count)d.")
        self.message_user(request, done % {"count": counts["reviewed"]}, messages.SUCCESS)
        if counts["own"]:
            self.message_user(request, _("Skipped, as you proposed them (another supervisor reviews them): "
                                         "%(count)d.") % {"count": counts["own"]}, messages.WARNING)
        if counts["not_proposed"]:
            self.message_user(request, _("Skipped, as already reviewed: %(count)d.") % {"count": counts["not_proposed"]},
                              messages.WARNING)


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
