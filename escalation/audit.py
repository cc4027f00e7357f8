"""The audit trail: one append-only row per thing a regulator may ask about (docs/audit-and-reports.md).

Every call site is one explicit line, `audit.record(...)`, inside the transaction of what it records
(a rolled-back action leaves no entry). Never pass message text or a full phone number in `data`:
ids, levels, statuses and masked phones only.

    audit.record("incident.claimed", actor=user, obj=incident)
    audit.record("message.assessed", actor_label=f"product:{product.name}", product=product, obj=message, ...)
"""
from datetime import timedelta

from django.db import models
from django.utils import timezone

from .models import AuditEntry, Incident

KEY_USE_EVERY = timedelta(hours=1)  # an API key's use is recorded at most this often
_key_seen = {}  # key pk -> when this process last recorded it (saves a query per request)


def record(action, *, actor=None, actor_label="", product=None, obj=None, incident=None, end_user=None,
           **data) -> AuditEntry:
    """Append one entry. `obj` names the object (type and id); `incident`/`end_user` are what a
    legal hold is checked against, found from `obj` when it is one of them or belongs to one."""
    incident_id, end_user_id = _subjects(obj, incident, end_user)
    if product is None and obj is not None:
        product = getattr(obj, "product_id", None)
    return AuditEntry.objects.create(
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label or (actor.get_username() if actor is not None else "console"),
        product_id=product.pk if isinstance(product, models.Model) else product,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        incident_id=incident_id,
        end_user_id=end_user_id,
        data=data,
    )


def _subjects(obj, incident, end_user):
    if incident is None and isinstance(obj, Incident):
        incident = obj
    incident_id = incident.pk if isinstance(incident, models.Model) else incident
    if end_user is None and obj is not None:
        name = obj._meta.model_name
        if name == "enduser":
            end_user = obj.pk
        elif name in ("contact", "conversation"):
            end_user = obj.end_user_id
        elif isinstance(incident, Incident):
            end_user = incident.conversation.end_user_id
    end_user_id = end_user.pk if isinstance(end_user, models.Model) else end_user
    return incident_id, end_user_id


def key_used(api_key, now=None):
    """An API key's use: recorded at most once per key per hour (across processes, nearly: a DB check)."""
    now = now or timezone.now()
    last = _key_seen.get(api_key.hashed_key)
    if last is not None and now - last < KEY_USE_EVERY:
        return None
    _key_seen[api_key.hashed_key] = now
    if AuditEntry.objects.filter(action="api_key.used", object_type="apikey", object_id=str(api_key.pk),
                                 at__gt=now - KEY_USE_EVERY).exists():
        return None
    return record("api_key.used", actor_label=f"product:{api_key.product.name}", product=api_key.product_id,
                  obj=api_key, prefix=api_key.prefix)


def notification(notification) -> AuditEntry:
    """A notification attempt's new state (an SMS, call or page of a chain, or a verification text)."""
    from contacts.models import Contact
    from contacts.services import mask_phone

    incident = notification.incident
    # Not `notification.contact`: a PUT may have replaced the contact while a worker was sending
    # (the row's contact is then NULL, the instance's id stale), and the attempt must still be recorded.
    contact = Contact.objects.filter(pk=notification.contact_id).first() if notification.contact_id else None
    product = incident.product_id if incident else (
        notification.product_id or (contact.end_user.product_id if contact else None))
    return record(f"notification.{notification.status}", product=product, obj=notification, incident=incident,
                  end_user=(incident.conversation.end_user_id if incident else contact.end_user_id if contact
                            else None),
                  kind=notification.kind, step=notification.step, to=mask_phone(notification.to_phone),
                  staff=notification.staff_id, attempts=notification.attempts,
                  error_code=notification.error_code or None)


class AuditedAdmin:
    """ModelAdmin mixin: every add, change and delete in the Django admin goes to the audit trail
    too (Django's own LogEntry is kept as well), and so does a change of a legal hold."""

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        _admin_record(request, "admin.add", obj, message)
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        _admin_record(request, "admin.change", obj, message)
        return entry

    def log_deletions(self, request, queryset):
        entries = super().log_deletions(request, queryset)
        for obj in queryset:
            _admin_record(request, "admin.delete", obj, "")
        return entries

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "legal_hold" in getattr(form, "changed_data", ()):
            record("legal_hold.set" if obj.legal_hold else "legal_hold.cleared", actor=request.user, obj=obj)


def _admin_record(request, action, obj, message):
    record(action, actor=request.user, obj=obj, model=obj._meta.label_lower, change=_fields_only(message))


def _fields_only(message):
    """Django's change message without object names (an inline contact's name is personal data)."""
    if not isinstance(message, list):
        return []
    return [{verb: {k: v for k, v in detail.items() if k in ("name", "fields")} for verb, detail in item.items()}
            for item in message if isinstance(item, dict)]
