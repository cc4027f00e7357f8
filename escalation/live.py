"""Pushing console frames over the channel layer.

The channel layer is at-most-once (a full channel or a Redis outage drops frames silently), so
the database stays the truth: frames are sent only after the transaction commits, a failure to
send is logged and dropped, and every (re)connecting console gets a `queue.snapshot`.
"""
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from conversations.risk.reasons import reasons

from . import oncall
from .models import Incident, StaffProfile
from .roles import role_of

log = logging.getLogger(__name__)
SUPERVISORS_GROUP = "console.supervisors"
SNAPSHOT_LIMIT = 500


def product_group(product_id) -> str:
    return f"console.product.{product_id}"


def sees_everything(user) -> bool:
    return user.is_superuser or role_of(user) in ("supervisor", "admin")


def groups_for_user(user) -> list[str]:
    """Supervisors get everything through one group; an operator one group per assigned product."""
    if sees_everything(user):
        return [SUPERVISORS_GROUP]
    return [product_group(pk) for pk in visible_product_ids(user)]


def visible_product_ids(user) -> list[int]:
    profile = StaffProfile.objects.filter(user=user).first()
    return list(profile.products.values_list("pk", flat=True)) if profile else []


def visible_incidents(user):
    queryset = Incident.objects.select_related("product", "conversation__end_user", "claimed_by")
    if not sees_everything(user):
        queryset = queryset.filter(product_id__in=visible_product_ids(user))
    return queryset


def _iso(value):
    return value.isoformat() if value else None


def queue_item(incident) -> dict:
    """An incident as the console's queue shows it (no message text, no phone numbers)."""
    end_user = incident.conversation.end_user
    return {
        "id": str(incident.pk),
        "level": incident.level,
        "category": incident.category or None,
        "status": incident.status,
        "product": incident.product.name,
        "conversation": incident.conversation.external_id,
        "mode": incident.conversation.mode,
        "user": {"age_group": end_user.age_group or None, "region": end_user.region or None,
                 "dependence_level": end_user.dependence_level},
        "opened_at": _iso(incident.opened_at),
        "claimed_by": incident.claimed_by.get_username() if incident.claimed_by else None,
        "claimed_at": _iso(incident.claimed_at),
        "escalated_at": _iso(incident.escalated_at),
        "resolved_at": _iso(incident.resolved_at),
        "outcome": incident.outcome or None,
    }


def snapshot(user) -> dict:
    """Every incident not resolved that the user may see, most severe first, then longest waiting."""
    queryset = visible_incidents(user).exclude(status="resolved").order_by("-level_rank", "opened_at")
    items = [queue_item(i) for i in queryset[:SNAPSHOT_LIMIT]]
    total = len(items) if len(items) < SNAPSHOT_LIMIT else queryset.count()
    # The roster (on call, online, the understaffed warning) rides along: escalation.oncall.
    return {"type": "queue.snapshot", "incidents": items, "total": total, **oncall.summary()}


def publish(incident, frame: dict):
    """Send `frame` to everyone who may see `incident`, once the current transaction commits."""
    groups = [product_group(incident.product_id), SUPERVISORS_GROUP]
    transaction.on_commit(lambda: send_to_groups(groups, frame))


def send_to_groups(groups, frame):
    layer = get_channel_layer()
    try:
        for group in groups:
            # The group rides along: a socket that has just left it drops frames already queued for it.
            async_to_sync(layer.group_send)(group, {"type": "console.frame", "frame": frame, "group": group})
    except Exception as error:  # Redis down: the console catches up from its snapshot on reconnect
        log.warning("console frame %s not sent: %s", frame.get("type"), error.__class__.__name__)


def incident_changed(incident, frame_type="incident.updated", **extra):
    publish(incident, {"type": frame_type, "incident": queue_item(incident), **extra})


def message_created(incident, message):
    publish(incident, {"type": "message.created", "incident": str(incident.pk), "message": message_item(message)})


def message_updated(incident, message):
    """A message's assessment changed (the risk second stage raised it)."""
    publish(incident, {"type": "message.updated", "incident": str(incident.pk), "message": message_item(message)})


def message_item(message) -> dict:
    return {
        "id": message.external_id,
        "role": message.role,
        "text": message.text,
        "sent_at": message.sent_at.isoformat(),
        "level": message.level,
        "category": message.category or None,
        "signals": (message.assessment.get("console") or {}).get("signals", []),
        # The same in words for the operator (who decided, how sure the model was, which rule)
        "reasons": reasons((message.assessment.get("console") or {}).get("signals", [])),
        "operator": message.operator.get_username() if message.operator_id else None,
    }
