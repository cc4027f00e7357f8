"""Human takeover of a flagged conversation: claim, talk, hand back, resolve.

Every action is one transaction: the state change, its timeline event, the product's webhook
(outbox row) and the console frame (sent after commit) go together or not at all.
"""
import secrets
import uuid

from django.db import transaction
from django.utils import timezone

from conversations.models import Conversation, Message

from . import audit, live, webhooks
from .models import Incident
from .services import record_event

MAX_OPERATOR_TEXT = 4000
MAX_NOTE = 2000
OUTCOMES = [choice for choice, _ in Incident.OUTCOME_CHOICES]


class TakeoverError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def _incident_for(user, incident_id, *, lock=False) -> Incident:
    try:
        pk = uuid.UUID(str(incident_id))
    except ValueError:
        raise TakeoverError("not_found", "No such incident.")
    queryset = live.visible_incidents(user)
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    incident = queryset.filter(pk=pk).first()
    if incident is None:
        raise TakeoverError("not_found", "No such incident.")
    return incident


def _held_by(user, incident):
    if incident.status != "claimed" or incident.claimed_by_id != user.pk:
        raise TakeoverError("not_claimed", "Take over the conversation first.")


def _webhook(incident, event_type, **data):
    webhooks.enqueue(incident.product, event_type,
                     {"conversation": incident.conversation.external_id, "incident": str(incident.pk), **data})


@transaction.atomic
def claim(user, incident_id) -> Incident:
    """Exactly one operator wins, however many click at once: a conditional UPDATE decides."""
    incident = _incident_for(user, incident_id)
    now = timezone.now()
    won = Incident.objects.filter(pk=incident.pk, status__in=("open", "returned")).update(
        status="claimed", claimed_by=user, claimed_at=now
    )
    if not won:
        incident.refresh_from_db()
        if incident.status == "resolved":
            raise TakeoverError("resolved", "This incident is already resolved.")
        raise TakeoverError("already_claimed", f"Already taken over by {incident.claimed_by}.")
    incident.refresh_from_db()
    Conversation.objects.filter(pk=incident.conversation_id).update(mode="human")
    incident.conversation.mode = "human"
    record_event(incident, "claimed", actor=user)
    audit.record("incident.claimed", actor=user, obj=incident,
                 waited_seconds=int((now - incident.opened_at).total_seconds()))
    _webhook(incident, "conversation.human_takeover", operator=user.get_short_name() or user.get_username())
    live.incident_changed(incident)
    return incident


@transaction.atomic
def send_message(user, incident_id, text) -> Message:
    text = (text or "").strip()
    if not text or len(text) > MAX_OPERATOR_TEXT:
        raise TakeoverError("invalid", f"A message needs 1 to {MAX_OPERATOR_TEXT} characters.")
    incident = _incident_for(user, incident_id, lock=True)
    _held_by(user, incident)
    now = timezone.now()
    message = Message.objects.create(
        conversation_id=incident.conversation_id, external_id=f"op_{secrets.token_hex(8)}", role="operator",
        text=text, sent_at=now, received_at=now, operator=user,
    )
    Conversation.objects.filter(pk=incident.conversation_id).update(last_message_at=now)
    record_event(incident, "operator_message", actor=user, message=message.external_id)
    audit.record("operator.message", actor=user, obj=message, incident=incident, product=incident.product_id)
    _webhook(incident, "conversation.operator_message",
             message={"id": message.external_id, "text": text, "sent_at": now.isoformat()})
    live.message_created(incident, message)
    return message


@transaction.atomic
def return_to_ai(user, incident_id, note="") -> Incident:
    incident = _incident_for(user, incident_id, lock=True)
    _held_by(user, incident)
    note = (note or "")[:MAX_NOTE]
    incident.status = "returned"
    incident.save(update_fields=["status"])
    Conversation.objects.filter(pk=incident.conversation_id).update(mode="ai")
    incident.conversation.mode = "ai"
    record_event(incident, "returned_to_ai", actor=user, note=note)
    audit.record("incident.returned", actor=user, obj=incident)
    _webhook(incident, "conversation.returned_to_ai", note=note)
    live.incident_changed(incident)
    return incident


@transaction.atomic
def resolve(user, incident_id, outcome, note="") -> Incident:
    if outcome not in OUTCOMES:
        raise TakeoverError("invalid", f"The outcome must be one of {', '.join(OUTCOMES)}.")
    incident = _incident_for(user, incident_id, lock=True)
    if incident.status == "resolved":
        raise TakeoverError("resolved", "This incident is already resolved.")
    if incident.status == "claimed" and incident.claimed_by_id != user.pk and not live.sees_everything(user):
        raise TakeoverError("not_claimed", f"Taken over by {incident.claimed_by}; only they or a supervisor "
                            "can resolve it.")
    note = (note or "")[:MAX_NOTE]
    incident.status, incident.outcome, incident.resolved_at = "resolved", outcome, timezone.now()
    incident.save(update_fields=["status", "outcome", "resolved_at"])
    Conversation.objects.filter(pk=incident.conversation_id).update(mode="ai")
    incident.conversation.mode = "ai"
    record_event(incident, "resolved", actor=user, outcome=outcome, note=note)
    audit.record("incident.resolved", actor=user, obj=incident, outcome=outcome)
    if outcome == "false_alarm":  # the flagged messages were not a risk: proposed as labels (escalation.feedback)
        from .feedback import do_propose_false_alarm

        do_propose_false_alarm(user, incident)
    _webhook(incident, "incident.resolved", outcome=outcome)
    live.incident_changed(incident)
    return incident



@transaction.atomic
def notify_contacts(user, incident_id):
    """Start the emergency-contact chain now (an operator's `contacts.notify`)."""
    from contacts import chain

    incident = _incident_for(user, incident_id, lock=True)
    if incident.status == "resolved":
        raise TakeoverError("resolved", "This incident is already resolved.")
    if not chain.start(incident, actor=user, reason="operator"):
        raise TakeoverError("already_notified", "The contacts are already being notified.")
    audit.record("contacts.notify", actor=user, obj=incident)
    return incident
