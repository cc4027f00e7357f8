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
def register_end_user(product, external_id, *, birth_date=None, age_group="", locale="", region="", contacts=()):
    """Create or replace an end user and their contacts (PUT semantics). Raises RegistrationError."""
    if birth_date and birth_date > timezone.localdate():
        raise RegistrationError("invalid", "The birth date is in the future.", {"birth_date": "In the future."})
    group = derive_age_group(birth_date, age_group, region)
    contacts = validate_contacts(group, list(contacts))
    now = timezone.now()
    end_user, _ = EndUser.objects.select_for_update().get_or_create(product=product, external_id=external_id)
    end_user.birth_date, end_user.age_group = birth_date, group
    end_user.locale, end_user.region, end_user.updated_at = locale, region.upper(), now

    # A phone already verified for this user stays verified; a new or changed number must be verified anew.
    verified = {c.phone: c.verified_at for c in end_user.contacts.all() if c.verified_at}
    end_user.contacts.all().delete()
    rows = Contact.objects.bulk_create(
        Contact(
            end_user=end_user,
            name=c.name,
            relationship=c.relationship,
            kind=c.kind,
            phone=c.phone,
            priority=c.priority,
            verified_at=verified.get(c.phone),
            created_at=now,
        )
        for c in contacts
    )
    status = registration_status(end_user, rows)
    if status == "pending_verification" and end_user.registration_deadline is None:
        end_user.registration_deadline = now + timedelta(hours=settings.REGISTRATION_VERIFY_HOURS)
    elif status in ("not_required", "complete"):
        end_user.registration_deadline = None
    end_user.registration = status
    end_user.save()
    return end_user


def end_user_for_message(product, external_id) -> EndUser:
    """The user a conversation belongs to; a user the product never registered is created bare."""
    end_user, _ = EndUser.objects.get_or_create(product=product, external_id=external_id)
    return end_user


def contacts_in_priority(end_user) -> list[Contact]:
    return list(end_user.contacts.order_by("priority", "id"))
