"""Product API v1: messages, flags and reading conversations back (docs/api.md)."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from .usage import continuous_use_minutes
from escalation import services as incidents
from escalation.params import whole_number

from . import serializers as s
from . import services
from .auth import product_of
from .models import Conversation, Message

ERRORS = {code: s.ErrorSerializer for code in (400, 401, 404, 409, 413, 415, 422, 429, 503)}
PAGE_LIMIT_MAX = 500
IDEMPOTENCY_KEY_MAX = 200  # IdempotentRequest.key holds 300: "flag:" and this


def validated(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def as_plain(data):
    """Validated data (OrderedDicts, datetimes) as plain JSON-able values, for hashing and storage."""
    if isinstance(data, dict):
        return {k: as_plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [as_plain(v) for v in data]
    return data


class MessagesView(APIView):
    @extend_schema(operation_id="post_message", request=s.MessageInSerializer,
                   responses={201: s.MessageOutSerializer, 200: s.MessageOutSerializer, **ERRORS},
                   description="Post one message of a conversation; get the assessment and directives back. "
                   "The message `id` is the idempotency key.")
    def post(self, request, conversation_id):
        data = as_plain(validated(s.MessageInSerializer, request))
        status, body = services.post_message(product_of(request), conversation_id, data)
        return Response(body, status=status)

    @extend_schema(operation_id="list_messages", responses={200: s.MessagePageSerializer, **ERRORS},
                   parameters=[OpenApiParameter("after", str, description="Cursor from a previous page."),
                               OpenApiParameter("limit", int, description=f"At most {PAGE_LIMIT_MAX}; default 100.")])
    def get(self, request, conversation_id):
        conversation = get_object_or_404(Conversation, product=product_of(request), external_id=conversation_id)
        raw_after, raw_limit = request.query_params.get("after", "0"), request.query_params.get("limit", "100")
        after, limit = whole_number(raw_after), whole_number(raw_limit, maximum=PAGE_LIMIT_MAX)
        if after is None or not limit:
            raise services.ApiProblem(422, "invalid", "`after` must be a cursor and `limit` 1 to "
                                      f"{PAGE_LIMIT_MAX}.", {"after": raw_after, "limit": raw_limit})
        rows = list(Message.objects.filter(conversation=conversation, id__gt=after).order_by("id")[:limit])
        messages = [{"id": m.external_id, "role": m.role, "text": m.text, "sent_at": m.sent_at.isoformat(),
                     "received_at": m.received_at.isoformat(), "cursor": str(m.id)} for m in rows]
        next_cursor = str(rows[-1].id) if len(rows) == limit else None
        return Response({"messages": messages, "next": next_cursor})


class ConversationView(APIView):
    @extend_schema(operation_id="get_conversation", responses={200: s.ConversationOutSerializer, **ERRORS})
    def get(self, request, conversation_id):
        conversation = get_object_or_404(Conversation.objects.select_related("end_user"),
                                         product=product_of(request), external_id=conversation_id)
        incident = incidents.active_incident(conversation)
        return Response({
            "id": conversation.external_id,
            "user": conversation.end_user.external_id,
            "mode": conversation.mode,
            "incident": incidents.incident_summary(incident) if incident else None,
            "continuous_use_minutes": continuous_use_minutes(conversation.end_user),
        })


class FlagsView(APIView):
    @extend_schema(operation_id="post_flag", request=s.FlagInSerializer,
                   responses={201: s.FlagOutSerializer, 200: s.FlagOutSerializer, **ERRORS},
                   parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER,
                                                description="Retries with the same key get the first answer.")])
    def post(self, request):
        data = as_plain(validated(s.FlagInSerializer, request))
        key = request.headers.get("Idempotency-Key", "").strip() or None
        if key and len(key) > IDEMPOTENCY_KEY_MAX:  # refused, not cut: two long keys would be one
            raise services.ApiProblem(400, "idempotency_key_too_long", f"`Idempotency-Key` is at most "
                                      f"{IDEMPOTENCY_KEY_MAX} characters.", {"Idempotency-Key": f"{len(key)} characters."})
        status, body = services.post_flag(product_of(request), data, key)
        return Response(body, status=status)
