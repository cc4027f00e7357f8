"""End users and their guardians / emergency contacts: the registration rules for minors and elders."""
from dataclasses import dataclass
from datetime import date, timedelta

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from escalation.regions import region_rules

from .models import Contact, EndUser


class RegistrationError(Exception):
    """A registration the rules refuse; nothing is stored."""

    def __init__(self, code, message, fields=None):
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields or {}


@dataclass
class ContactInput:
    name: str
    kind: str
    phone: str
    relationship: str = ""
    priority: int = 1


def age_on(birth_date: date, today: date) -> int:
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def derive_age_group(birth_date, age_group, region) -> str:
    """The birth date wins over a declared group: bounds are per region."""
    if birth_date is None:
        return age_group or ""
    rules = region_rules(region)
    age = age_on(birth_date, timezone.localdate())
    if age < rules["minor_under"]:
        return "minor"
    if age >= rules["elder_from"]:
        return "elder"
    return "adult"


def normalise_phone(raw: str) -> str | None:
    """E.164 form of a valid international number, or None."""
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """+8613800138000 -> +86138****8000: country code, first three and last four digits."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "****"
    national = str(number.national_number)
    if len(national) <= 7:
        shown = f"{'*' * (len(national) - 2)}{national[-2:]}"
    else:
        shown = f"{national[:3]}{'*' * (len(national) - 7)}{national[-4:]}"
    return f"+{number.country_code}{shown}"


def required_contact_kinds(age_group: str) -> set[str] | None:
    """Which contact kinds satisfy the rule for this age group (None: no contact required)."""
    if age_group == "minor":
        return {"guardian"}
    if age_group == "elder":
        return {"guardian", "emergency"}
    return None


def registration_status(end_user: EndUser, contacts: list[Contact]) -> str:
    kinds = required_contact_kinds(end_user.age_group)
    if kinds is None:
        return "not_required"
    if any(c.kind in kinds and c.verified_at for c in contacts):
        return "complete"
    if end_user.registration == "restricted":
        return "restricted"
    return "pending_verification"


def validate_contacts(age_group: str, contacts: list[ContactInput]) -> list[ContactInput]:
    bad = {}
    for index, contact in enumerate(contacts):
        phone = normalise_phone(contact.phone)
        if phone is None:
            bad[f"contacts[{index}].phone"] = "Not a valid international (E.164) phone number."
        else:
            contact.phone = phone
    if bad:
        raise RegistrationError("invalid_phone", "A contact's phone number is not a valid E.164 number.", bad)
    kinds = required_contact_kinds(age_group)
    if kinds is not None and not any(c.kind in kinds for c in contacts):
        needed = "a guardian" if kinds == {"guardian"} else "a guardian or emergency contact"
        raise RegistrationError(
            "contact_required",
            f"A user whose age group is {age_group} must have {needed}.",
            {"contacts": f"At least one contact of kind {' or '.join(sorted(kinds))} is required."},
        )
    return contacts


@transaction.atomic
def register_end_user(product, external_id, *, birth_date=None, age_group="", locale="", region="", first_name="",
                      contacts=()):
    """Create or replace an end user and their contacts (PUT semantics). Raises RegistrationError.

    Contacts are matched by phone: an unchanged number keeps its verification; a new number of a
    minor's or elder's contact is texted a confirmation link once the transaction commits.
    """
    from .registration import send_verification  # registration builds on this module

    if birth_date and birth_date > timezone.localdate():
        raise RegistrationError("invalid", "The birth date is in the future.", {"birth_date": "In the future."})
    group = derive_age_group(birth_date, age_group, region)
    contacts = validate_contacts(group, list(contacts))
    now = timezone.now()
    end_user, _ = EndUser.objects.select_for_update().get_or_create(product=product, external_id=external_id)
    end_user.birth_date, end_user.age_group, end_user.first_name = birth_date, group, first_name
    end_user.locale, end_user.region, end_user.updated_at = locale, region.upper(), now

    existing = {c.phone: c for c in end_user.contacts.all()}
    kept, new = [], []
    for given in contacts:
        row = existing.pop(given.phone, None) or Contact(end_user=end_user, phone=given.phone, created_at=now)
        row.name, row.relationship, row.kind, row.priority = given.name, given.relationship, given.kind, given.priority
        (kept if row.pk else new).append(row)
        row.save()
    Contact.objects.filter(pk__in=[c.pk for c in existing.values()]).delete()

    status = registration_status(end_user, kept + new)
    if status == "pending_verification" and end_user.registration_deadline is None:
        end_user.registration_deadline = now + timedelta(hours=settings.REGISTRATION_VERIFY_HOURS)
    elif status in ("not_required", "complete"):
        end_user.registration_deadline = None
    end_user.registration = status
    end_user.save()
    if required_contact_kinds(group) is not None:
        for contact in new:
            send_verification(contact)
    return end_user


def end_user_for_message(product, external_id) -> EndUser:
    """The user a conversation belongs to; a user the product never registered is created bare."""
    end_user, _ = EndUser.objects.get_or_create(product=product, external_id=external_id)
    return end_user


def contacts_in_priority(end_user) -> list[Contact]:
    return list(end_user.contacts.order_by("priority", "id"))
