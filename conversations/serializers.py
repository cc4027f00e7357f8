"""Request and response shapes of the product API (they also make the OpenAPI schema)."""
from datetime import datetime, timedelta, timezone as dt_timezone

from django.utils import timezone
from rest_framework import serializers

LEVELS_FLAGGED = ["explicit", "high_risk", "distress"]
LEVELS_ASSESSED = ["explicit", "high_risk", "distress", "none"]
ROLES_IN = ["user", "assistant"]
ROLES_STORED = ["user", "assistant", "operator"]
CATEGORIES = ["suicide", "self_harm", "violence", "property", "dependency", "other"]
MAX_TEXT = 20_000
FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks drift; a message from tomorrow is a bug
# ... and so is one from before there were AI companions. Without a floor, a `sent_at` in year 1
# passed validation and then overflowed the usage clock's date arithmetic (a 500: the message lost).
EARLIEST_SENT_AT = datetime(2000, 1, 1, tzinfo=dt_timezone.utc)


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(StrictCharField, serializers.RegexField):
    pass


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only: DRF's own field also takes "yes", "1", 0 and the like, and a consent
    (contacts.api, `training_consent`) must not be read from a string the product did not mean as one."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def plausible_sent_at(value):
    if value and value > timezone.now() + FUTURE_TOLERANCE:
        raise serializers.ValidationError("Must not be in the future.")
    if value and value < EARLIEST_SENT_AT:
        raise serializers.ValidationError(f"Must not be before {EARLIEST_SENT_AT.date().isoformat()}.")
    return value


class ExternalId(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=128, min_length=1, trim_whitespace=False, **kwargs)


class FlagSerializer(serializers.Serializer):
    level = serializers.ChoiceField(LEVELS_FLAGGED)
    category = serializers.ChoiceField(CATEGORIES, required=False)
    reason = StrictCharField(max_length=2000, required=False, allow_blank=True)


class MessageInSerializer(serializers.Serializer):
    id = ExternalId()
    user = ExternalId(required=False)
    role = serializers.ChoiceField(ROLES_IN)
    text = StrictCharField(max_length=MAX_TEXT, trim_whitespace=False)
    sent_at = serializers.DateTimeField(required=False, validators=[plausible_sent_at])
    flag = FlagSerializer(required=False)


class TranscriptItemSerializer(serializers.Serializer):
    id = ExternalId()
    role = serializers.ChoiceField(ROLES_IN)
    text = StrictCharField(max_length=MAX_TEXT, trim_whitespace=False)
    sent_at = serializers.DateTimeField(required=False, validators=[plausible_sent_at])


class FlagInSerializer(serializers.Serializer):
    conversation = ExternalId()
    user = ExternalId(required=False)
    level = serializers.ChoiceField(LEVELS_FLAGGED)
    category = serializers.ChoiceField(CATEGORIES, required=False)
    reason = StrictCharField(max_length=2000, required=False, allow_blank=True)
    transcript = TranscriptItemSerializer(many=True, required=False, max_length=500)


class ResourceSerializer(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()
    hours = serializers.CharField()


class DirectiveSerializer(serializers.Serializer):
    type = serializers.ChoiceField(["reply_with_template", "hold_for_operator", "suggest_break"])
    text = serializers.CharField()
    resources = ResourceSerializer(many=True, required=False)
    incident = serializers.UUIDField(required=False, allow_null=True)


class MessageRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    role = serializers.ChoiceField(ROLES_STORED)
    received_at = serializers.DateTimeField()


class AssessmentSerializer(serializers.Serializer):
    level = serializers.ChoiceField(LEVELS_ASSESSED)
    category = serializers.ChoiceField(CATEGORIES, allow_null=True)
    source = serializers.ChoiceField(["console", "product"])


class ConversationStateSerializer(serializers.Serializer):
    id = serializers.CharField()
    mode = serializers.ChoiceField(["ai", "human"])
    continuous_use_minutes = serializers.IntegerField()


class MessageOutSerializer(serializers.Serializer):
    message = MessageRefSerializer()
    assessment = AssessmentSerializer()
    conversation = ConversationStateSerializer()
    directives = DirectiveSerializer(many=True)


class IncidentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    conversation = serializers.CharField()
    level = serializers.ChoiceField(LEVELS_FLAGGED)
    category = serializers.ChoiceField(CATEGORIES, allow_null=True)
    status = serializers.ChoiceField(["open", "claimed", "returned", "resolved"])
    outcome = serializers.CharField(allow_null=True)
    opened_at = serializers.DateTimeField()
    claimed_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    actor = serializers.CharField()
    data = serializers.DictField()


class IncidentDetailSerializer(IncidentSerializer):
    timeline = TimelineEntrySerializer(many=True)


class FlagOutSerializer(serializers.Serializer):
    incident = IncidentSerializer()
    directives = DirectiveSerializer(many=True)


class ConversationOutSerializer(serializers.Serializer):
    id = serializers.CharField()
    user = serializers.CharField()
    mode = serializers.ChoiceField(["ai", "human"])
    incident = IncidentSerializer(allow_null=True)
    continuous_use_minutes = serializers.IntegerField()


class StoredMessageSerializer(serializers.Serializer):
    id = serializers.CharField()
    role = serializers.ChoiceField(ROLES_STORED)
    text = serializers.CharField()
    sent_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    cursor = serializers.CharField()


class MessagePageSerializer(serializers.Serializer):
    messages = StoredMessageSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="Pass as `after` to read on; null at the end.")


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField()


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()
