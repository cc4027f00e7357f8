"""The product API's write paths: messages and flagged sessions, each in one transaction.

Every user message is assessed by the console's own engine; the product's flag and the engine's
assessment combine by taking the higher, and both are recorded on the message.
"""
import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contacts import services as contacts
from contacts.models import EndUser
from escalation import audit, live
from escalation import services as incidents
from escalation.database import retry_when_locked
from escalation.models import Incident

from . import directives, second_stage, usage
from .models import Conversation, HotlineReferral, IdempotentRequest, Message
from .risk import Assessment, assess, level_rank

CONTEXT_MESSAGES = 10  # earlier user messages the engine sees (it may raise a level, never lower one)
LAST_MESSAGE_AT_STEP = timedelta(minutes=1)


class ApiProblem(Exception):
    """A request the rules refuse; the transaction rolls back, nothing is stored."""

    def __init__(self, status, code, message, fields=None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}


def body_hash(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def message_key_prefix(conversation_id):
    """The start of the idempotency keys of a conversation's messages. The conversation id's length
    goes first so that no two (conversation, message) pairs make one key: joined by ':' alone,
    `a` + `b:c` and `a:b` + `c` were the same key (a false 409)."""
    return f"message:{len(conversation_id)}:{conversation_id}:"


def idempotent(product, key, data, handler, public_id):
    """Run `handler()` once per (product, key): an identical retry gets the first answer back (200),
    a different body under the same key gets 409 naming `public_id` (the caller's id). Safe when
    two identical requests race.

    The stored answer is not looked up first: a retry is rare, so it is recognised by what it
    cannot do (store the same message or answer again: an IntegrityError rolls it all back) or by
    the error it would get now; either way the stored answer, if any, is what it receives. This
    saves every first request a query."""
    digest = body_hash(data)

    def stored():
        return IdempotentRequest.objects.filter(product=product, key=key).first()

    def replay(record):
        if record.body_hash != digest:
            raise ApiProblem(409, "idempotency_conflict",
                             "This id was already used with a different body.", {"id": public_id})
        return 200, record.response

    try:
        with transaction.atomic():
            status, response = handler()
            IdempotentRequest.objects.create(
                product=product, key=key, body_hash=digest, status_code=status, response=response
            )
    except ApiProblem:
        # Refused now, but perhaps answered before (e.g. an assistant message retried after an
        # operator took over): the first answer stands.
        record = stored()
        if record is None:
            raise
        return replay(record)
    except IntegrityError:
        # A twin request won the race or this is a retry (replay the answer), or the id was stored
        # another way, e.g. from a flagged session's transcript (a conflict: we never answered it).
        record = stored()
        if record is None:
            raise ApiProblem(409, "idempotency_conflict", "This id is already stored.", {"id": public_id})
        return replay(record)
    return status, response


def _conversation_sql(lock):
    # Every message starts here, and the ORM spent longer building this query (a join and a
    # subquery) than SQLite took to run it: a quarter of a message's time under load. Plain SQL,
    # portable to SQLite and PostgreSQL; the model's own table and column names.
    # The incident's condition is written as the partial index's (SQLite matches it by form).
    conversation, incident = Conversation._meta.db_table, Incident._meta.db_table
    return (f"SELECT c.*, (SELECT i.id FROM {incident} i WHERE i.conversation_id = c.id AND NOT (i.status = 'resolved') "
            f"LIMIT 1) AS active_incident_pk FROM {conversation} c WHERE c.product_id = %s AND c.external_id = %s"
            + (" FOR UPDATE OF c" if lock else ""))


def find_conversation(product, external_id, *, lock=False):
    """The conversation with its end user and its active incident's id (`active_incident_pk`, from
    the partial unique index: a message in a conversation without an incident needs no query to
    learn that), or None. `lock`: the row is locked for the transaction where the database can."""
    lock = lock and connection.features.has_select_for_update_of
    found = list(Conversation.objects.raw(_conversation_sql(lock), [product.pk, external_id]))
    if not found:
        return None
    conversation = found[0]
    conversation.active_incident_pk = Incident._meta.pk.to_python(conversation.active_incident_pk)  # a UUID
    conversation.product = product
    conversation.end_user = EndUser.objects.raw(
        f"SELECT * FROM {EndUser._meta.db_table} WHERE id = %s", [conversation.end_user_id])[0]
    return conversation


def conversation_for(product, external_id, user_external_id, *, lock=False):
    """The conversation, created on its first message (which must name the user)."""
    conversation = find_conversation(product, external_id, lock=lock)
    if conversation is None:
        if not user_external_id:
            raise ApiProblem(422, "user_required", "`user` is required on a conversation's first message.",
                             {"user": "Required for a new conversation."})
        end_user = contacts.end_user_for_message(product, user_external_id)
        conversation, created = Conversation.objects.get_or_create(
            product=product, external_id=external_id, defaults={"end_user": end_user}
        )
        if created:
            conversation.active_incident_pk = None
    if user_external_id and conversation.end_user.external_id != user_external_id:
        raise ApiProblem(422, "user_mismatch", "This conversation belongs to another user.",
                         {"user": "Does not match the conversation's user."})
    return conversation


def active_incident(conversation):
    """The conversation's active incident; no query when conversation_for saw there is none (it holds
    the conversation's lock, and incidents are only opened under that lock)."""
    if getattr(conversation, "active_incident_pk", "unknown") is None:
        return None
    return incidents.active_incident(conversation)


def combine(console, flag):
    """The higher of the console's assessment and the product's flag (console wins a tie)."""
    if flag and level_rank(flag["level"]) > level_rank(console.level):
        return flag["level"], flag.get("category") or console.category or "other", "product"
    category = console.category or ((flag or {}).get("category") if flag and flag["level"] == console.level else None)
    return console.level, category or "", "console"


def recent_user_assessments(conversation, limit=CONTEXT_MESSAGES):
    """The conversation's last user messages as the levels stored for them (oldest first): what the
    whole pipeline said (model, rules, the product's flag, a second-stage raise), not the rules
    alone, so that "see you tomorrow, goodbye" after a crisis only the model recognised is read
    with it."""
    rows = (Message.objects.filter(conversation=conversation, role="user").order_by("-id")
            .values_list("level", "category")[:limit])
    return [Assessment(level, category or None, ()) for level, category in reversed(rows)]


def store_message(conversation, *, external_id, role, text, sent_at, flag=None, operator=None):
    """Store one message with its assessment (and, with RISK_BACKENDS, its second-stage review).
    Returns the Message."""
    if role == "user":
        console = assess(text, lambda: recent_user_assessments(conversation))  # read only if the engine needs it
    else:
        console = assess("")  # only user messages are assessed
    level, category, source = combine(console, flag if role == "user" else None)
    message = Message.objects.create(
        conversation=conversation,
        external_id=external_id,
        role=role,
        text=text,
        sent_at=sent_at,
        level=level,
        category=category,
        assessment_source=source,
        assessment={
            "console": {"level": console.level, "category": console.category, "signals": list(console.signals)},
            "product": flag,
        },
        operator=operator,
    )
    second_stage.enqueue(message)  # RISK_BACKENDS only: a review row, in this transaction
    return message


def post_message(product, conversation_id, data):
    """POST /conversations/{id}/messages. Returns (status, response body)."""
    key = message_key_prefix(conversation_id) + data["id"]
    return retry_when_locked(
        lambda: idempotent(product, key, data, lambda: _post_message(product, conversation_id, data), data["id"]))


def _post_message(product, conversation_id, data):
    conversation = conversation_for(product, conversation_id, data.get("user"), lock=True)
    if data["role"] == "assistant" and conversation.mode == "human":
        raise ApiProblem(409, "human_in_control", "An operator has taken over this conversation; "
                         "the AI must not answer until it is returned.")
    sent_at = data.get("sent_at") or timezone.now()
    message = store_message(conversation, external_id=data["id"], role=data["role"], text=data["text"],
                            sent_at=sent_at, flag=data.get("flag"))
    # Kept to the minute (the admin lists conversations by it): an UPDATE for every message would
    # cost each message a write.
    if conversation.last_message_at is None or message.received_at - conversation.last_message_at >= LAST_MESSAGE_AT_STEP:
        conversation.last_message_at = message.received_at
        conversation.save(update_fields=["last_message_at"])
    if message.role == "user":
        audit_assessment(product, conversation, message)

    end_user = conversation.end_user
    incident, actions = None, []
    if message.role == "user":
        used = usage.record_activity(end_user, sent_at, dependence_phrase=is_dependence_phrase(message))
        minutes = used.minutes
        if level_rank(message.level) >= level_rank("high_risk"):
            reason = (data.get("flag") or {}).get("reason", "") if message.assessment_source == "product" else ""
            incident, _ = incidents.open_or_raise(conversation, level=message.level, category=message.category,
                                                  reason=reason, source=message.assessment_source, message=message)
        else:
            incident = active_incident(conversation)
        actions = directives.for_assessment(message.level, end_user=end_user, mode=conversation.mode,
                                            incident=incident, usage=used, text=message.text)
        record_referral(conversation, actions, message.level, message)
        record_reminders(product, conversation, actions)
    else:
        minutes = usage.continuous_use_minutes(end_user)
        incident = active_incident(conversation)
    if incident is not None:
        live.message_created(incident, message)
    return 201, {
        "message": {"id": message.external_id, "role": message.role, "received_at": message.received_at.isoformat()},
        "assessment": {"level": message.level, "category": message.category or None,
                       "source": message.assessment_source},
        "conversation": {"id": conversation.external_id, "mode": conversation.mode,
                         "continuous_use_minutes": minutes},
        "directives": actions,
    }


def post_flag(product, data, idempotency_key=None):
    """POST /flags: open or raise the conversation's incident, merging the transcript by message id."""
    if idempotency_key:
        return retry_when_locked(lambda: idempotent(product, f"flag:{idempotency_key}", data,
                                                    lambda: _post_flag(product, data), idempotency_key))
    return retry_when_locked(lambda: _post_flag_once(product, data))


@transaction.atomic
def _post_flag_once(product, data):
    return _post_flag(product, data)


def _post_flag(product, data):
    conversation = conversation_for(product, data["conversation"], data.get("user"), lock=True)
    known = set(Message.objects.filter(conversation=conversation, external_id__in=[m["id"] for m in data.get(
        "transcript", [])]).values_list("external_id", flat=True))
    level, category = data["level"], data.get("category") or "other"
    merged = []
    for item in data.get("transcript", []):
        if item["id"] in known:
            continue
        known.add(item["id"])
        message = store_message(conversation, external_id=item["id"], role=item["role"], text=item["text"],
                                sent_at=item.get("sent_at") or timezone.now())
        merged.append(message)
        if message.role == "user":
            audit_assessment(product, conversation, message)
        if level_rank(message.level) > level_rank(level):
            level, category = message.level, message.category or category
    incident, _ = incidents.open_or_raise(conversation, level=level, category=category,
                                          reason=data.get("reason", ""), source="product")
    for message in merged:
        live.message_created(incident, message)
    incidents.record_event(incident, "flagged", actor_label="product", level=data["level"],
                           category=data.get("category") or "", reason=data.get("reason", ""))
    audit.record("flag.received", actor_label=f"product:{product.name}", obj=incident, level=data["level"],
                 category=data.get("category") or "", incident_level=incident.level, merged=len(merged))
    actions = directives.for_assessment(incident.level, end_user=conversation.end_user, mode=conversation.mode,
                                        incident=incident)
    record_referral(conversation, actions, incident.level)
    return 201, {"incident": incidents.incident_summary(incident), "directives": actions}


def is_dependence_phrase(message) -> bool:
    console = message.assessment["console"]
    return console["category"] == "dependency" or any(sig.lower() == "dependency" for sig in console["signals"])


def record_referral(conversation, actions, level, message=None):
    """Count a template reply that carried a hotline (SB 243's annual crisis-referral count)."""
    if directives.carries_hotline(actions):
        HotlineReferral.objects.create(product_id=conversation.product_id, conversation=conversation,
                                       message=message, level=level)


def audit_assessment(product, conversation, message):
    """What the audit trail keeps of an assessment: levels and sources, never the text.

    Only assessments that found something (or that the product flagged): a benign message's
    assessment is on its own row, and one audit row per message would make the trail as large as
    the message table (8.6 million rows a day at 100 messages/s) and cost each message an INSERT."""
    product_flag = message.assessment.get("product") or {}
    if message.level == "none" and message.assessment["console"]["level"] == "none" and not product_flag:
        return
    audit.record("message.assessed", actor_label=f"product:{product.name}", product=product, obj=message,
                 end_user=conversation.end_user_id, conversation=conversation.pk, level=message.level,
                 category=message.category or None, source=message.assessment_source,
                 console_level=message.assessment["console"]["level"], product_level=product_flag.get("level"))


REMINDERS = ("suggest_break", "remind_ai_identity", "dependence_reminder")


def record_reminders(product, conversation, actions):
    """Reminders given (Measures Art. 18 breaks, NY's AI-identity notice, dependence): audited and counted."""
    for action in actions:
        if action["type"] in REMINDERS:
            audit.record(f"reminder.{action['type']}", actor_label="console", product=product, obj=conversation)
