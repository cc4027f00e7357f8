"""The risk engine's feedback loop (issue 13, point 5; docs/risk.md, "Feedback loop").

Operators propose labels on user messages in the console; supervisors confirm or reject them in the
admin; `manage.py export_risk_feedback` writes the confirmed ones of consenting users as training
data. Every side effect goes through a `do_*` function below: one transaction each, with its audit
entry, its timeline event (when the label belongs to an incident) and the console frame (after commit).

    do_mark_not_risk(user, incident_id, message_id)                    a flagged message is not a risk
    do_mark_missed_risk(user, incident_id, message_id, level, category)  the engine under-called a message
    do_propose_false_alarm(user, incident)       "not a risk" for an incident resolved as a false alarm
    do_review(user, feedback_ids, "confirmed" | "rejected")           a supervisor's decision
"""
import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations.models import CATEGORY_CHOICES, Message, RiskFeedback
from conversations.risk import level_rank
from conversations.risk.normalise import has_traditional

from . import audit, live
from .models import Incident
from .services import record_event
from .takeover import TakeoverError, _incident_for

MISSED_LEVELS = ("distress", "high_risk", "explicit")
CATEGORIES = tuple(code for code, _ in CATEGORY_CHOICES)
REVIEW_STATES = ("confirmed", "rejected")


def may_review(user) -> bool:
    """Supervisors and admins confirm or reject labels (escalation.roles); operators only propose."""
    return live.sees_everything(user)


def feedback_item(feedback) -> dict:
    """A label as the console shows it beside its message (no text: the message is beside it)."""
    return {
        "id": feedback.pk, "verdict": feedback.verdict, "level": feedback.level,
        "category": feedback.category or None, "source": feedback.source, "state": feedback.state,
        "by": feedback.proposed_by.get_username() if feedback.proposed_by_id else None,
        "at": feedback.proposed_at.isoformat(),
    }


def standing_feedback(message_ids) -> dict:
    """message pk -> its standing (proposed or confirmed) label, for the transcript."""
    rows = RiskFeedback.objects.filter(message_id__in=message_ids, state__in=RiskFeedback.STANDING) \
        .select_related("proposed_by")
    return {row.message_id: row for row in rows}


def _user_message(incident, message_id) -> Message:
    if not isinstance(message_id, str) or not message_id:
        raise TakeoverError("invalid", "Name the message.")
    message = Message.objects.filter(conversation_id=incident.conversation_id, external_id=message_id).first()
    if message is None:
        raise TakeoverError("not_found", "No such message in this conversation.")
    if message.role != "user":
        raise TakeoverError("invalid", "Only a user's message can be labelled.")
    return message


def _propose(user, incident, message, *, verdict, level, category="", source="operator") -> RiskFeedback:
    """The message's proposed label, new or replacing a proposal not yet reviewed (a confirmed one
    stands until a supervisor rejects it)."""
    standing = RiskFeedback.objects.select_for_update().filter(
        message=message, state__in=RiskFeedback.STANDING).first()
    if standing is not None and standing.state == "confirmed":
        raise TakeoverError("already_confirmed", "A supervisor has already confirmed a label for this message.")
    now = timezone.now()
    replaced = standing is not None
    if standing is None:
        try:
            with transaction.atomic():
                feedback = RiskFeedback.objects.create(
                    message=message, incident=incident, verdict=verdict, level=level, category=category,
                    source=source, proposed_by=user, proposed_at=now)
        except IntegrityError:  # another operator labelled it at the same moment: theirs stands
            raise TakeoverError("already_labelled", "Someone else labelled this message just now.") from None
    else:
        feedback = standing
        feedback.incident, feedback.verdict, feedback.level, feedback.category = incident, verdict, level, category
        feedback.source, feedback.proposed_by, feedback.proposed_at = source, user, now
        feedback.save()
    details = {"verdict": verdict, "level": level, "category": category or None, "source": source}
    record_event(incident, "feedback_proposed", actor=user, message=message.external_id, **details)
    audit.record("feedback.proposed", actor=user, obj=feedback, product=incident.product_id, incident=incident,
                 end_user=incident.conversation.end_user_id, message=message.pk, replaced=replaced,
                 was=message.level, **details)
    live.publish(incident, {"type": "feedback.updated", "incident": str(incident.pk), "message": message.external_id,
                            "feedback": feedback_item(feedback)})
    return feedback


@transaction.atomic
def do_mark_not_risk(user, incident_id, message_id) -> RiskFeedback:
    """A flagged user message (any level above `none`) was not a risk: its label is `none`."""
    incident = _incident_for(user, incident_id)
    message = _user_message(incident, message_id)
    if message.level == "none":
        raise TakeoverError("invalid", "This message was not flagged; use “Missed risk” to say it was one.")
    return _propose(user, incident, message, verdict="not_risk", level="none")


@transaction.atomic
def do_mark_missed_risk(user, incident_id, message_id, level, category) -> RiskFeedback:
    """The engine under-called a user message: its label is the level and category the operator picks."""
    if level not in MISSED_LEVELS:
        raise TakeoverError("invalid", f"The level must be one of {', '.join(MISSED_LEVELS)}.")
    if category not in CATEGORIES:
        raise TakeoverError("invalid", f"The category must be one of {', '.join(CATEGORIES)}.")
    incident = _incident_for(user, incident_id)
    message = _user_message(incident, message_id)
    if level_rank(level) < level_rank(message.level) or (level, category) == (message.level, message.category):
        raise TakeoverError("invalid", "A missed risk is a higher level (or another category) than the message has.")
    return _propose(user, incident, message, verdict="missed_risk", level=level, category=category)


def do_propose_false_alarm(user, incident) -> list[RiskFeedback]:
    """Called by takeover.resolve (inside its transaction) for the outcome `false_alarm`: "not a risk"
    for the incident's flagged user messages that have no label yet. The incident's messages are
    those since the conversation's previous incident was resolved."""
    previous = Incident.objects.filter(conversation_id=incident.conversation_id, resolved_at__lt=incident.opened_at) \
        .exclude(pk=incident.pk).order_by("-resolved_at").values_list("resolved_at", flat=True).first()
    messages = Message.objects.filter(conversation_id=incident.conversation_id, role="user").exclude(level="none") \
        .exclude(risk_feedback__state__in=RiskFeedback.STANDING)
    if previous is not None:
        messages = messages.filter(received_at__gt=previous)
    return [_propose(user, incident, message, verdict="not_risk", level="none", source="false_alarm")
            for message in messages.order_by("id")]


@transaction.atomic
def do_review(user, feedback_ids, state) -> dict:
    """A supervisor confirms or rejects proposed labels. Nobody reviews their own proposal (four
    eyes): those, and labels already reviewed, are skipped. Returns the counts."""
    if not may_review(user):
        raise PermissionError("Only supervisors and admins review risk feedback.")
    if state not in REVIEW_STATES:
        raise ValueError(f"state must be one of {', '.join(REVIEW_STATES)}")
    rows = list(RiskFeedback.objects.select_for_update(of=("self",)).filter(pk__in=list(feedback_ids))
                .select_related("message__conversation", "incident").order_by("id"))
    counts = {"reviewed": 0, "own": 0, "not_proposed": 0}
    now = timezone.now()
    for feedback in rows:
        if feedback.state != "proposed":
            counts["not_proposed"] += 1
            continue
        if feedback.proposed_by_id == user.pk:
            counts["own"] += 1
            continue
        feedback.state, feedback.reviewed_by, feedback.reviewed_at = state, user, now
        feedback.save(update_fields=["state", "reviewed_by", "reviewed_at"])
        conversation = feedback.message.conversation
        details = {"verdict": feedback.verdict, "level": feedback.level, "category": feedback.category or None}
        audit.record(f"feedback.{state}", actor=user, obj=feedback, product=conversation.product_id,
                     incident=feedback.incident_id, end_user=conversation.end_user_id, message=feedback.message_id,
                     proposed_by=feedback.proposed_by_id, **details)
        if feedback.incident is not None:
            record_event(feedback.incident, f"feedback_{state}", actor=user, message=feedback.message.external_id,
                         **details)
            live.publish(feedback.incident, {"type": "feedback.updated", "incident": str(feedback.incident_id),
                                             "message": feedback.message.external_id,
                                             "feedback": feedback_item(feedback)})
        counts["reviewed"] += 1
    return counts


def erase_for(end_user) -> int:
    """Erasure (contacts.rights.erase) deletes the user's labels with their texts."""
    return RiskFeedback.objects.filter(message__conversation__end_user=end_user).delete()[1].get(
        "conversations.RiskFeedback", 0)


# --- training data: `manage.py export_risk_feedback` --------------------------------------------

SPEAKERS = {"minor": "teen", "adult": "adult", "elder": "elder"}  # the corpus's speaker tags
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def language_of(text, locale="") -> str:
    """The corpus's `lang` tag (zh-Hans, zh-Hant, en, mixed) of a message, from its text (the
    user's locale only when the text says nothing, e.g. emoji)."""
    chinese, latin = bool(_CJK.search(text)), bool(_LATIN_WORD.search(text))
    if chinese and latin:
        return "mixed"
    if chinese:
        return "zh-Hant" if has_traditional(text) else "zh-Hans"
    if latin:
        return "en"
    locale = (locale or "").lower()
    if locale.startswith("zh"):
        return "zh-Hant" if any(tag in locale for tag in ("hant", "tw", "hk", "mo")) else "zh-Hans"
    return "en"


def exportable(product=None):
    """Confirmed labels whose user consents to training now and is not erased (final Measures
    Art. 16): consent is read at export time, so a withdrawal stops the next export."""
    queryset = RiskFeedback.objects.filter(
        state="confirmed", message__role="user",
        message__conversation__end_user__training_consent=True,
        message__conversation__end_user__erased_at__isnull=True)
    if product is not None:
        queryset = queryset.filter(message__conversation__product=product)
    return queryset.select_related("message__conversation__end_user").order_by("id")


def training_items(product=None) -> list[dict]:
    """The exportable labels as lines of the trainer's corpus format (conversations.risk.training)."""
    items = []
    for feedback in exportable(product):
        message = feedback.message
        end_user = message.conversation.end_user
        if not message.text.strip():  # the trainer refuses a line without text
            continue
        items.append({
            "text": message.text,
            "level": feedback.level,
            "category": (feedback.category or None) if feedback.level != "none" else None,
            "lang": language_of(message.text, end_user.locale),
            "kind": "feedback",
            "speaker": SPEAKERS.get(end_user.age_group, "adult"),
        })
    return items
