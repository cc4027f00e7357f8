from django.contrib import admin

from .models import Contact, EndUser
from .services import mask_phone


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ("name", "relationship", "kind", "phone", "priority", "verified_at")


@admin.register(EndUser)
class EndUserAdmin(admin.ModelAdmin):
    list_display = ("external_id", "product", "age_group", "region", "locale", "registration")
    list_filter = ("age_group", "registration", "region", "product")
    search_fields = ("external_id",)
    inlines = [ContactInline]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "relationship", "masked_phone", "priority", "verified_at", "end_user")
    list_filter = ("kind",)
    search_fields = ("name", "end_user__external_id")
    raw_id_fields = ("end_user",)

    @admin.display(description="phone")
    def masked_phone(self, contact):
        return mask_phone(contact.phone)  # lists never show a full number
