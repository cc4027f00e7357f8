"""End users and their guardians / emergency contacts: the registration rules for minors and elders."""
from dataclasses import dataclass
from datetime import date

import phonenumbers
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from escalation import audit
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


# The API answers in English; the admin shows these translated (gettext_noop marks them for the catalogue).
INVALID_PHONE = gettext_noop("Not a valid international (E.164) phone number.")
CONTACT_REQUIRED = {
    "minor": gettext_noop("A user whose age group is minor must have a guardian."),
    "elder": gettext_noop("A user whose age group is elder must have a guardian or emergency contact."),
}


def missing_contact(age_group: str, kinds) -> RegistrationError | None:
    """The one rule on who must be a contact, for the API and the admin alike (docs/api.md,
    `contact_required`): the error when contacts of these `kinds` do not satisfy it, else None."""
    required = required_contact_kinds(age_group)
    if required is None or required & set(kinds):
        return None
    return RegistrationError(
        "contact_required",
        CONTACT_REQUIRED[age_group],
        {"contacts": f"At least one contact of kind {' or '.join(sorted(required))} is required."},
    )


def deletion_refused(contacts) -> RegistrationError | None:
    """Would deleting these contacts leave a minor without a guardian (an elder without any contact)?"""
    ids = {contact.pk for contact in contacts}
    for end_user in EndUser.objects.filter(contacts__pk__in=ids).distinct():
        problem = missing_contact(end_user.age_group,
                                  end_user.contacts.exclude(pk__in=ids).values_list("kind", flat=True))
        if problem:
            problem.fields["user"] = end_user.external_id
            return problem
    return None


def birth_date_refused(birth_date) -> RegistrationError | None:
    """A birth date in the future is refused, by the API and the admin alike."""
    if birth_date and birth_date > timezone.localdate():
        return RegistrationError("invalid", "The birth date is in the future.", {"birth_date": "In the future."})
    return None


def validate_contacts(age_group: str, contacts: list[ContactInput]) -> list[ContactInput]:
    bad = {}
    for index, contact in enumerate(contacts):
        phone = normalise_phone(contact.phone)
        if phone is None:
            bad[f"contacts[{index}].phone"] = INVALID_PHONE
        else:
            contact.phone = phone
    if bad:
        raise RegistrationError("invalid_phone", "A contact's phone number is not a valid E.164 number.", bad)
    problem = missing_contact(age_group, [c.kind for c in contacts])
    if problem:
        raise problem
    return contacts


@transaction.atomic
def register_end_user(product, external_id, *, birth_date=None, age_group="", locale="", region="", first_name="",
                      contacts=(), training_consent=False):
    """Create or replace an end user and their contacts (PUT semantics). Raises RegistrationError.

    Contacts are matched by phone: an unchanged number keeps its verification; a new number of a
    minor's or elder's contact is texted a confirmation link (registration.settle, as in the admin).
    """
    from .registration import settle  # registration builds on this module

    problem = birth_date_refused(birth_date)
    if problem:
        raise problem
    group = derive_age_group(birth_date, age_group, region)
    contacts = validate_contacts(group, list(contacts))
    now = timezone.now()
    end_user, _ = EndUser.objects.select_for_update().get_or_create(product=product, external_id=external_id)
    end_user.birth_date, end_user.age_group, end_user.first_name = birth_date, group, first_name
    end_user.locale, end_user.region, end_user.updated_at = locale, region.upper(), now
    if end_user.training_consent != training_consent:  # given or withdrawn: who said so, and when
        end_user.training_consent = training_consent
        audit.record("user.training_consent", actor_label=f"product:{product.name}", product=product, obj=end_user,
                     consent=training_consent)

    existing = {c.phone: c for c in end_user.contacts.all()}
    for given in contacts:
        row = existing.pop(given.phone, None) or Contact(end_user=end_user, phone=given.phone, created_at=now)
        row.name, row.relationship, row.kind, row.priority = given.name, given.relationship, given.kind, given.priority
        row.save()
    Contact.objects.filter(pk__in=[c.pk for c in existing.values()]).delete()
    end_user.save()
    settle(end_user)  # the registration's state, and the verification texts it owes
    return end_user


def end_user_for_message(product, external_id) -> EndUser:
    """The user a conversation belongs to; a user the product never registered is created bare."""
    end_user, _ = EndUser.objects.get_or_create(product=product, external_id=external_id)
    return end_user


def contacts_in_priority(end_user) -> list[Contact]:
    return list(end_user.contacts.order_by("priority", "id"))
