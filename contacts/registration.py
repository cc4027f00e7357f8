"""Registration rules enforced after a save (API or admin) and by workers: verification texts and
links, their hourly limits, reminders, restriction after the deadline."""
import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from conversations.models import Product
from escalation import audit, webhooks

from . import chain, sms_text
from .models import Contact, ContactVerification, EndUser, Notification
from .services import (contacts_in_priority, derive_age_group, mask_phone, registration_status,
                       required_contact_kinds)

REMINDER_BEFORE = timedelta(hours=24)
VERIFICATION_KINDS = ("verify", "reminder")
LIMIT_WINDOW = timedelta(hours=1)  # the limits are per hour (settings.VERIFY_TEXTS_PER_*_PER_HOUR)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def send_verification(contact, kind="verify") -> bool:
    """Text the contact a one-time confirmation link. Call inside the transaction that saved the contact.

    The text is fixed wording and our own link only: nothing an API caller chose (a name, a
    relationship) reaches a number nobody has verified yet. At most VERIFY_TEXTS_PER_NUMBER_PER_HOUR
    texts go to one number (whichever product asks) and VERIFY_TEXTS_PER_PRODUCT_PER_HOUR from one
    product, counted from the Notification rows (the same in every process). Over a limit nothing is
    sent, the refusal is audited and False returned: the contact stays "delayed" (never texted) and
    the hourly `enforce_deadlines`, or the product's next PUT, tries again.
    """
    end_user = contact.end_user
    product = end_user.product
    # One product's texts are decided one at a time (a no-op on SQLite, whose writers queue anyway),
    # so two requests cannot both see room for the last text. Cost: a row lock per verification text.
    Product.objects.select_for_update().get(pk=product.pk)
    limit = _over_limit(contact.phone, product)
    if limit:
        audit.record("verification.limited", actor_label=f"product:{product.name}", product=product, obj=contact,
                     kind=kind, limit=limit, to=mask_phone(contact.phone))
        return False
    token = secrets.token_urlsafe(24)
    ContactVerification.objects.create(contact=contact, token_hash=token_hash(token),
                                       expires_at=timezone.now() + timedelta(hours=settings.VERIFY_LINK_HOURS))
    body = sms_text.render(kind, end_user, hours=settings.VERIFY_LINK_HOURS,
                           link=f"{settings.PUBLIC_BASE_URL}/c/verify/{token}")
    chain._create(contact=contact, product=product, kind=kind, to_phone=contact.phone, body=body)
    return True


def _over_limit(phone, product) -> str | None:
    """"number" or "product" when that hourly limit of verification texts is reached, else None."""
    recent = Notification.objects.filter(kind__in=VERIFICATION_KINDS, created_at__gt=timezone.now() - LIMIT_WINDOW)
    if recent.filter(to_phone=phone).count() >= settings.VERIFY_TEXTS_PER_NUMBER_PER_HOUR:
        return "number"
    if recent.filter(product=product).count() >= settings.VERIFY_TEXTS_PER_PRODUCT_PER_HOUR:
        return "product"
    return None


def settle(end_user):
    """After an end user's contacts were saved, by the API or an admin (inside that transaction):
    the registration's state and deadline, and a text to each contact that must verify and was
    never texted (new, renumbered, or delayed by the limits)."""
    refresh_registration(end_user)
    if required_contact_kinds(end_user.age_group) is None:
        return
    for contact in end_user.contacts.filter(verified_at__isnull=True, verifications__isnull=True):
        send_verification(contact)


def phone_changed(contact):
    """A contact's number changed (the admin): it is unverified, and links texted to the old number die."""
    contact.verified_at = None
    if contact.pk:
        contact.verifications.all().delete()


def verification_state(end_user, contacts) -> dict:
    """Per contact id: "verified", "sent" (a link went out), "delayed" (held back by the hourly
    limits, sent later) or "not_required" (an adult's contact)."""
    if required_contact_kinds(end_user.age_group) is None:
        return {c.pk: "verified" if c.verified_at else "not_required" for c in contacts}
    texted = set(ContactVerification.objects.filter(contact__in=contacts).values_list("contact_id", flat=True))
    return {c.pk: "verified" if c.verified_at else "sent" if c.pk in texted else "delayed" for c in contacts}


def verification_for(token):
    """The unused, unexpired verification of this token, or None."""
    return ContactVerification.objects.select_related("contact__end_user").filter(
        token_hash=token_hash(token), used_at__isnull=True, expires_at__gt=timezone.now()).first()


@transaction.atomic
def confirm(token) -> bool:
    verification = verification_for(token)
    if verification is None:
        return False
    now = timezone.now()
    if not ContactVerification.objects.filter(pk=verification.pk, used_at__isnull=True).update(used_at=now):
        return False  # single use, even when two clicks race
    contact = verification.contact
    contact.verified_at = now
    contact.save(update_fields=["verified_at"])
    refresh_registration(contact.end_user)
    return True


def refresh_registration(end_user):
    status = registration_status(end_user, contacts_in_priority(end_user))
    if status != end_user.registration:
        end_user.registration = status
        if status in ("complete", "not_required"):
            end_user.registration_deadline = None
        elif status == "pending_verification" and end_user.registration_deadline is None:
            end_user.registration_deadline = timezone.now() + timedelta(hours=settings.REGISTRATION_VERIFY_HOURS)
        end_user.save(update_fields=["registration", "registration_deadline"])


def enforce_deadlines(now=None) -> dict:
    """Daily-ish: remind before the deadline, restrict after it, and re-evaluate age groups."""
    now = now or timezone.now()
    counts = {"reminded": 0, "restricted": 0, "regrouped": 0, "texted": 0}
    pending = EndUser.objects.filter(registration="pending_verification", registration_deadline__isnull=False)
    for end_user in pending.filter(registration_deadline__lte=now).select_related("product"):
        with transaction.atomic():
            if EndUser.objects.filter(pk=end_user.pk, registration="pending_verification").update(
                    registration="restricted"):
                webhooks.enqueue(end_user.product, "user.registration_restricted", {"user": end_user.external_id})
                counts["restricted"] += 1
    # Texts the hourly limits held back go out once there is room again (each is tried once a run).
    delayed = Contact.objects.filter(end_user__registration__in=("pending_verification", "restricted"),
                                     verified_at__isnull=True, verifications__isnull=True)
    for contact in delayed.select_related("end_user__product"):
        with transaction.atomic():
            if not contact.verifications.exists() and send_verification(contact):
                counts["texted"] += 1
    for end_user in pending.filter(registration_deadline__gt=now, registration_deadline__lte=now + REMINDER_BEFORE):
        for contact in contacts_in_priority(end_user):
            if contact.verified_at is None and not Notification.objects.filter(contact=contact, kind="reminder").exists():
                with transaction.atomic():
                    if send_verification(contact, kind="reminder"):
                        counts["reminded"] += 1
    # A birthday moves a user between groups (a minor turns 18, an adult 60): the rules follow.
    for end_user in _in_batches(EndUser.objects.filter(birth_date__isnull=False)):
        group = derive_age_group(end_user.birth_date, end_user.age_group, end_user.region)
        if group != end_user.age_group:
            with transaction.atomic():
                end_user.age_group = group
                end_user.save(update_fields=["age_group"])
                settle(end_user)
                counts["regrouped"] += 1
    return counts


def _in_batches(queryset, size=500):
    """The queryset's rows, read a batch at a time, each batch read to its end before the caller
    writes. Not `.iterator()`: on SQLite its half-read statement keeps a read snapshot open, and a
    connection holding an old snapshot cannot become the writer once another has committed (SQLite
    refuses at once, busy timeout or not: "database is locked")."""
    last = None
    while True:
        batch = list((queryset if last is None else queryset.filter(pk__gt=last)).order_by("pk")[:size])
        yield from batch
        if len(batch) < size:
            return
        last = batch[-1].pk
