"""End users' rights (final Measures Art. 16): export their interaction history, erase it.

    export(end_user)                 everything kept about one user, for the product that registered them
    erase(product, external_id)      personal data and texts go; anonymous counts stay

Erasure keeps an anonymous record so reports still add up: the EndUser row stays with its age group
and region only (its id replaced, `erased_at` set), its conversations keep their incidents (levels,
times, outcomes) and hotline-referral counts under a random id; messages, contacts and their
history, usage days, risk-feedback labels, verification texts, webhook bodies and idempotency replays that carry the
user's data are deleted; notifications keep kind and status without phone or text; timeline events
lose free text (reasons, notes, message ids). A legal hold on the user or one of their incidents
refuses erasure (409 `legal_hold`).
"""
import json
import secrets
from collections import Counter
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations import exact
from conversations.auth import product_of
from conversations.models import Conversation, IdempotentRequest, Message, RiskFeedback, UsageDay
from conversations.serializers import ErrorSerializer, IncidentDetailSerializer
from conversations.services import ApiProblem, message_key_prefix
from escalation import audit, feedback, live
from escalation import services as incidents_service
from escalation.models import Incident, IncidentEvent, WebhookEvent
from escalation.regions import region_rules

from .models import Contact, EndUser, Notification
from .services import contacts_in_priority

FREE_TEXT_KEYS = ("reason", "note", "message", "to")  # timeline data that may carry what a person wrote


def _iso(value):
    return value.isoformat() if value else None


def export(end_user) -> dict:
    conversations = Conversation.objects.filter(end_user=end_user).order_by("created_at", "id")
    incidents = Incident.objects.filter(conversation__end_user=end_user).select_related("conversation") \
        .order_by("opened_at")
    return {
        "exported_at": timezone.now().isoformat(),
        "user": {
            "id": end_user.external_id, "first_name": end_user.first_name or None,
            "birth_date": _iso(end_user.birth_date), "age_group": end_user.age_group or None,
            "locale": end_user.locale, "region": end_user.region, "registration": end_user.registration,
            "dependence_level": end_user.dependence_level, "created_at": _iso(end_user.created_at),
            "training_consent": end_user.training_consent,
        },
        "contacts": [  # full numbers: the user's own data, to the product that registered it
            {"name": c.name, "relationship": c.relationship, "kind": c.kind, "phone": c.phone,
             "priority": c.priority, "verified_at": _iso(c.verified_at), "created_at": _iso(c.created_at)}
            for c in contacts_in_priority(end_user)
        ],
        "conversations": [
            {"id": c.external_id, "mode": c.mode, "created_at": _iso(c.created_at),
             "messages": [{"id": m.external_id, "role": m.role, "text": m.text, "sent_at": _iso(m.sent_at),
                           "received_at": _iso(m.received_at), "level": m.level, "category": m.category or None}
                          for m in c.messages.order_by("id")]}
            for c in conversations
        ],
        "incidents": [incidents_service.incident_detail(i) for i in incidents],
        "notifications": [
            {"kind": n.kind, "status": n.status, "created_at": _iso(n.created_at), "finished_at": _iso(n.finished_at)}
            for n in Notification.objects.filter(Q(incident__in=incidents) | Q(contact__end_user=end_user))
            .exclude(kind="page").order_by("created_at", "id")
        ],
        "usage_days": usage_days(end_user),
        "risk_feedback": [  # what operators said the risk engine got wrong about the user's messages
            {"message": f.message.external_id, "conversation": f.message.conversation.external_id,
             "verdict": f.verdict, "level": f.level, "category": f.category or None, "state": f.state,
             "proposed_at": _iso(f.proposed_at), "reviewed_at": _iso(f.reviewed_at)}
            for f in RiskFeedback.objects.filter(message__conversation__end_user=end_user)
            .select_related("message__conversation").order_by("id")
        ],
    }


def usage_days(end_user):
    """Per local day: the user's messages that day (counted from the messages themselves) and the
    minutes of continuous use the console counted (UsageDay keeps only what the dependence level
    reads)."""
    tz = ZoneInfo(region_rules(end_user.region)["timezone"])
    minutes = dict(UsageDay.objects.filter(end_user=end_user).values_list("day", "minutes"))
    messages = Counter(timezone.localtime(sent_at, tz).date() for sent_at in Message.objects.filter(
        conversation__end_user=end_user, role="user").values_list("sent_at", flat=True))
    return [{"day": day.isoformat(), "minutes": minutes.get(day, 0), "messages": messages.get(day, 0)}
            for day in sorted(set(minutes) | set(messages))]


def is_held(end_user) -> bool:
    return end_user.legal_hold or Incident.objects.filter(conversation__end_user=end_user, legal_hold=True).exists()


@transaction.atomic
def erase(product, external_id) -> dict:
    end_user = EndUser.objects.select_for_update().filter(product=product, external_id=external_id,
                                                          erased_at__isnull=True).first()
    if end_user is None:
        raise ApiProblem(404, "not_found", "Not found.")
    if is_held(end_user):
        raise ApiProblem(409, "legal_hold", "This user's records are under a legal hold and cannot be erased now.")
    now = timezone.now()
    conversations = list(Conversation.objects.filter(end_user=end_user))
    incidents = Incident.objects.filter(conversation__in=conversations)
    for incident in incidents.exclude(status="resolved").select_related("product", "conversation__end_user"):
        incident.status, incident.outcome, incident.resolved_at = "resolved", incident.outcome or "other", now
        incident.save(update_fields=["status", "outcome", "resolved_at"])
        incidents_service.record_event(incident, "user_erased", actor_label="product")
        live.incident_changed(incident)
    # The chain stops; what was sent keeps its kind and status, not the number or the text.
    Notification.objects.filter(incident__in=incidents, status__in=("pending", "sending", "sent")).update(
        status="failed", error_code="user_erased", finished_at=now)
    Notification.objects.filter(incident__in=incidents).update(to_phone="", body="")
    Notification.objects.filter(contact__end_user=end_user, incident__isnull=True).delete()
    for event in IncidentEvent.objects.filter(incident__in=incidents):
        if any(key in event.data for key in FREE_TEXT_KEYS):  # the erasure's one exception to append-only
            IncidentEvent.objects.filter(pk=event.pk).update(
                data={k: v for k, v in event.data.items() if k not in FREE_TEXT_KEYS})
    incidents.update(reason="")

    counts = {"conversations": len(conversations), "incidents": incidents.count()}
    counts["risk_feedback"] = feedback.erase_for(end_user)  # labels on the user's messages, before the messages
    counts["messages"] = Message.objects.filter(conversation__in=conversations).delete()[1].get("conversations.Message", 0)
    for conversation in conversations:
        quoted = json.dumps(conversation.external_id, ensure_ascii=False)
        IdempotentRequest.objects.filter(product=product).filter(
            Q(exact.startswith("key", message_key_prefix(conversation.external_id)))
            | Q(response__incident__conversation=conversation.external_id)).delete()
        WebhookEvent.objects.filter(exact.contains("body", f'"conversation":{quoted}'), product=product).delete()
        conversation.external_id, conversation.mode = f"erased-{secrets.token_hex(12)}", "ai"
        conversation.save(update_fields=["external_id", "mode"])
    quoted = json.dumps(end_user.external_id, ensure_ascii=False)
    WebhookEvent.objects.filter(exact.contains("body", f'"user":{quoted}'), product=product).delete()
    counts["contacts"] = Contact.objects.filter(end_user=end_user).delete()[1].get("contacts.Contact", 0)
    Contact.history.filter(end_user_id=end_user.pk).delete()  # after: deleting a contact writes history too
    UsageDay.objects.filter(end_user=end_user).delete()

    end_user.external_id = f"erased-{secrets.token_hex(12)}"
    end_user.first_name, end_user.birth_date, end_user.locale = "", None, ""
    end_user.registration, end_user.registration_deadline = "not_required", None
    end_user.usage_started_at = end_user.usage_last_at = None
    end_user.usage_breaks_suggested = end_user.usage_ai_notices = 0
    end_user.dependence_level, end_user.dependence_reminded_on = "none", None
    end_user.training_consent = False
    end_user.erased_at = end_user.updated_at = now
    end_user.save()
    audit.record("user.erased", actor_label=f"product:{product.name}", product=product, obj=end_user, **counts)
    return counts


# --- the API ------------------------------------------------------------------------------------

class ExportUserSerializer(serializers.Serializer):
    id = serializers.CharField()
    first_name = serializers.CharField(allow_null=True)
    birth_date = serializers.DateField(allow_null=True)
    age_group = serializers.ChoiceField(["minor", "adult", "elder"], allow_null=True)
    locale = serializers.CharField()
    region = serializers.CharField()
    registration = serializers.CharField()
    dependence_level = serializers.CharField()
    created_at = serializers.DateTimeField()
    training_consent = serializers.BooleanField()


class ExportContactSerializer(serializers.Serializer):
    name = serializers.CharField()
    relationship = serializers.CharField()
    kind = serializers.ChoiceField(["guardian", "emergency"])
    phone = serializers.CharField(help_text="In full (E.164): the user's own data.")
    priority = serializers.IntegerField()
    verified_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class ExportMessageSerializer(serializers.Serializer):
    id = serializers.CharField()
    role = serializers.ChoiceField(["user", "assistant", "operator"])
    text = serializers.CharField()
    sent_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    level = serializers.CharField()
    category = serializers.CharField(allow_null=True)


class ExportConversationSerializer(serializers.Serializer):
    id = serializers.CharField()
    mode = serializers.ChoiceField(["ai", "human"])
    created_at = serializers.DateTimeField()
    messages = ExportMessageSerializer(many=True)


class ExportNotificationSerializer(serializers.Serializer):
    kind = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class ExportUsageDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    minutes = serializers.IntegerField()
    messages = serializers.IntegerField()


class ExportRiskFeedbackSerializer(serializers.Serializer):
    message = serializers.CharField()
    conversation = serializers.CharField()
    verdict = serializers.ChoiceField(["not_risk", "missed_risk"])
    level = serializers.ChoiceField(["explicit", "high_risk", "distress", "none"])
    category = serializers.CharField(allow_null=True)
    state = serializers.ChoiceField(["proposed", "confirmed", "rejected"])
    proposed_at = serializers.DateTimeField()
    reviewed_at = serializers.DateTimeField(allow_null=True)


class UserExportSerializer(serializers.Serializer):
    exported_at = serializers.DateTimeField()
    user = ExportUserSerializer()
    contacts = ExportContactSerializer(many=True)
    conversations = ExportConversationSerializer(many=True)
    incidents = IncidentDetailSerializer(many=True)
    notifications = ExportNotificationSerializer(many=True)
    usage_days = ExportUsageDaySerializer(many=True)
    risk_feedback = ExportRiskFeedbackSerializer(many=True, help_text="Labels operators gave the user's messages "
                                                 "(the risk engine's feedback loop, docs/risk.md).")


class UserExportView(APIView):
    @extend_schema(operation_id="export_user", responses={200: UserExportSerializer, 401: ErrorSerializer,
                                                          404: ErrorSerializer},
                   description="Everything kept about one user (final Measures Art. 16): profile, contacts with "
                   "full numbers, conversations with their messages, incidents with timelines.")
    def get(self, request, user_id):
        end_user = get_object_or_404(EndUser, product=product_of(request), external_id=user_id,
                                     erased_at__isnull=True)
        body = export(end_user)
        audit.record("user.exported", actor_label=f"product:{product_of(request).name}", obj=end_user,
                     conversations=len(body["conversations"]), incidents=len(body["incidents"]))
        return Response(body)


def erase_view(request, user_id):
    """DELETE /users/{id} (UserView.delete): 204, 404, or 409 `legal_hold`."""
    erase(product_of(request), user_id)
    return Response(status=204)
