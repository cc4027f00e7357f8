"""Registration rules enforced by workers: verification links, reminders, restriction after the deadline."""
import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from escalation import webhooks

from . import chain, sms_text
from .models import ContactVerification, EndUser, Notification
from .services import contacts_in_priority, derive_age_group, registration_status

REMINDER_BEFORE = timedelta(hours=24)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def send_verification(contact, kind="verify"):
    """Text the contact a one-time confirmation link. Call inside the transaction that saved the contact."""
    token = secrets.token_urlsafe(24)
    ContactVerification.objects.create(contact=contact, token_hash=token_hash(token),
                                       expires_at=timezone.now() + timedelta(hours=settings.VERIFY_LINK_HOURS))
    end_user = contact.end_user
    body = sms_text.render(kind, end_user, relationship=contact.relationship or contact.get_kind_display(),
                           hours=settings.VERIFY_LINK_HOURS, link=f"{settings.PUBLIC_BASE_URL}/c/verify/{token}")
    chain._create(contact=contact, kind=kind, to_phone=contact.phone, body=body)


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
    counts = {"reminded": 0, "restricted": 0, "regrouped": 0}
    pending = EndUser.objects.filter(registration="pending_verification", registration_deadline__isnull=False)
    for end_user in pending.filter(registration_deadline__lte=now).select_related("product"):
        with transaction.atomic():
            if EndUser.objects.filter(pk=end_user.pk, registration="pending_verification").update(
                    registration="restricted"):
                webhooks.enqueue(end_user.product, "user.registration_restricted", {"user": end_user.external_id})
                counts["restricted"] += 1
    for end_user in pending.filter(registration_deadline__gt=now, registration_deadline__lte=now + REMINDER_BEFORE):
        for contact in contacts_in_priority(end_user):
            if contact.verified_at is None and not Notification.objects.filter(contact=contact, kind="reminder").exists():
                with transaction.atomic():
                    send_verification(contact, kind="reminder")
                    counts["reminded"] += 1
    # A birthday moves a user between groups (a minor turns 18, an adult 60): the rules follow.
    for end_user in _in_batches(EndUser.objects.filter(birth_date__isnull=False)):
        group = derive_age_group(end_user.birth_date, end_user.age_group, end_user.region)
        if group != end_user.age_group:
            with transaction.atomic():
                end_user.age_group = group
                end_user.save(update_fields=["age_group"])
                refresh_registration(end_user)
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
