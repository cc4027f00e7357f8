"""The admin of end users and contacts. It keeps the API's registration rules (contacts/services.py
`missing_contact`, `normalise_phone`) and after a save settles the registration as the API does
(contacts/registration.py `settle`: its state, and the verification texts owed)."""
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import unquote
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.admin import SimpleHistoryAdmin

from escalation.admin import ReadOnlyAdmin
from escalation.audit import AuditedAdmin

from . import registration, services
from .models import Contact, EndUser, Notification
from .services import mask_phone


def deletion_refused_message(problem):
    return _("%(rule)s Add another contact before deleting this one (user %(user)s).") % {
        "rule": _(problem.message), "user": problem.fields["user"]}


class ContactForm(forms.ModelForm):
    """A contact as the API takes it: a valid international number, stored in E.164. A changed
    number is unverified again and links texted to the old one stop working."""

    def clean_phone(self):
        phone = services.normalise_phone(self.cleaned_data["phone"])
        if phone is None:
            raise forms.ValidationError(_(services.INVALID_PHONE))
        return phone

    def save(self, commit=True):
        if self.instance.pk:  # compared with the row: a history revert's form starts from an old version
            stored = Contact.objects.filter(pk=self.instance.pk).values_list("phone", flat=True).first()
            if stored != self.instance.phone:
                registration.phone_changed(self.instance)
        return super().save(commit)


class ContactFormSet(BaseInlineFormSet):
    """The end user's contacts as the page leaves them must satisfy the rule for their age group."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kinds = [form.cleaned_data["kind"] for form in self.forms
                 if form.cleaned_data and not self._should_delete_form(form)]
        problem = services.missing_contact(self.instance.age_group, kinds)
        if problem:
            raise forms.ValidationError(_(problem.message), code=problem.code)


class ContactInline(admin.TabularInline):
    model = Contact
    form = ContactForm
    formset = ContactFormSet
    extra = 0
    fields = ("name", "relationship", "kind", "phone", "priority", "verified_at")
    readonly_fields = ("verified_at",)  # only the contact's own link verifies a number


class EndUserForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        data["region"] = (data.get("region") or "").upper()
        birth_date = data.get("birth_date")
        problem = services.birth_date_refused(birth_date)
        if problem:
            self.add_error("birth_date", problem.fields["birth_date"])
        # As in the API: the birth date wins over a declared group (the contacts are checked against it).
        data["age_group"] = services.derive_age_group(birth_date, data.get("age_group", ""), data["region"])
        return data


@admin.register(EndUser)
class EndUserAdmin(AuditedAdmin, admin.ModelAdmin):
    form = EndUserForm
    list_display = ("external_id", "product", "age_group", "region", "locale", "registration", "legal_hold")
    list_filter = ("age_group", "registration", "region", "product", "legal_hold", "training_consent")
    search_fields = ("external_id",)
    # registration follows from the contacts (registration.settle); training consent is the product's to say (API)
    readonly_fields = ("registration", "registration_deadline", "training_consent")
    inlines = [ContactInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        registration.settle(form.instance)


class ContactAdminForm(ContactForm):
    def clean(self):
        data = super().clean()
        if self.instance.pk and "kind" in data:  # a new contact never breaks the rule; a changed kind may
            end_user = self.instance.end_user
            others = list(end_user.contacts.exclude(pk=self.instance.pk).values_list("kind", flat=True))
            problem = services.missing_contact(end_user.age_group, [*others, data["kind"]])
            if problem:
                raise forms.ValidationError(_(problem.message), code=problem.code)
        return data


@admin.register(Contact)
class ContactAdmin(AuditedAdmin, SimpleHistoryAdmin):
    form = ContactAdminForm
    list_display = ("name", "kind", "relationship", "masked_phone", "priority", "verified_at", "end_user")
    list_filter = ("kind", ("verified_at", admin.EmptyFieldListFilter), "end_user__age_group")
    search_fields = ("name", "end_user__external_id")
    raw_id_fields = ("end_user",)
    actions = ["delete_selected"]

    @admin.display(description="phone")
    def masked_phone(self, contact):
        return mask_phone(contact.phone)  # lists never show a full number

    def get_readonly_fields(self, request, obj=None):
        # Only the contact's own link verifies a number; a contact is not moved to another user.
        return ("verified_at", "end_user") if obj else ("verified_at",)

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            registration.settle(obj.end_user)

    def delete_view(self, request, object_id, extra_context=None):
        """Deleting a minor's only guardian (an elder's only contact) is refused with the reason."""
        with transaction.atomic():
            contact = self.get_object(request, unquote(object_id))
            problem = contact and services.deletion_refused([contact])
            if problem:
                self.message_user(request, deletion_refused_message(problem), messages.ERROR)
                return HttpResponseRedirect(reverse("admin:contacts_contact_change", args=[contact.pk]))
            return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        end_user = obj.end_user
        super().delete_model(request, obj)
        registration.settle(end_user)

    @admin.action(permissions=["delete"], description=gettext_lazy("Delete selected %(verbose_name_plural)s"))
    def delete_selected(self, request, queryset):
        """Django's bulk delete, refused whole when it would leave a minor without a guardian."""
        with transaction.atomic():
            problem = services.deletion_refused(list(queryset))
            if problem:
                self.message_user(request, deletion_refused_message(problem), messages.ERROR)
                return None
            return django_delete_selected(self, request, queryset)

    def delete_queryset(self, request, queryset):
        end_users = list(EndUser.objects.filter(contacts__in=queryset).distinct())
        super().delete_queryset(request, queryset)
        for end_user in end_users:
            registration.settle(end_user)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Every SMS, call and page, with its delivery status (in the embedded default: the outbox)."""

    list_display = ("created_at", "kind", "step", "masked_phone", "status", "provider", "error_code", "incident")
    list_filter = ("kind", "status", "provider")
    readonly_fields = [f.name for f in Notification._meta.fields]

    @admin.display(description="to")
    def masked_phone(self, notification):
        return mask_phone(notification.to_phone)
