from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from escalation.admin import ReadOnlyAdmin
from escalation.audit import AuditedAdmin

from .models import Contact, EndUser, Notification
from .services import mask_phone


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ("name", "relationship", "kind", "phone", "priority", "verified_at")


@admin.register(EndUser)
class EndUserAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("external_id", "product", "age_group", "region", "locale", "registration", "legal_hold")
    list_filter = ("age_group", "registration", "region", "product", "legal_hold")
    search_fields = ("external_id",)
    inlines = [ContactInline]


@admin.register(Contact)
class ContactAdmin(AuditedAdmin, SimpleHistoryAdmin):
    list_display = ("name", "kind", "relationship", "masked_phone", "priority", "verified_at", "end_user")
    list_filter = ("kind", ("verified_at", admin.EmptyFieldListFilter), "end_user__age_group")
    search_fields = ("name", "end_user__external_id")
    raw_id_fields = ("end_user",)

    @admin.display(description="phone")
    def masked_phone(self, contact):
        return mask_phone(contact.phone)  # lists never show a full number


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Every SMS, call and page, with its delivery status (in the embedded default: the outbox)."""

    list_display = ("created_at", "kind", "step", "masked_phone", "status", "provider", "error_code", "incident")
    list_filter = ("kind", "status", "provider")
    readonly_fields = [f.name for f in Notification._meta.fields]

    @admin.display(description="to")
    def masked_phone(self, notification):
        return mask_phone(notification.to_phone)
