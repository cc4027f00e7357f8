"""Product API v1: end users and their guardians / emergency contacts."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations.auth import product_of
from conversations.serializers import ErrorSerializer, StrictBooleanField, StrictCharField, StrictRegexField
from escalation.database import retry_when_locked

from . import registration, services
from .models import EndUser

ERRORS = {code: ErrorSerializer for code in (400, 401, 404, 413, 415, 422, 429, 503)}


class ContactInSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    relationship = StrictCharField(max_length=50, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(["guardian", "emergency"])
    phone = StrictCharField(max_length=32, help_text="E.164, e.g. +8613800138000")
    priority = serializers.IntegerField(min_value=1, max_value=99, required=False, default=1)


class UserInSerializer(serializers.Serializer):
    first_name = StrictCharField(max_length=50, required=False, allow_blank=True, default="",
                                       help_text="Optional; only used in urgent texts to contacts (never chat content).")
    birth_date = serializers.DateField(required=False, allow_null=True)
    age_group = serializers.ChoiceField(["minor", "adult", "elder"], required=False, allow_blank=True)
    locale = StrictCharField(max_length=16, required=False, allow_blank=True, default="")
    region = StrictRegexField(r"^[A-Za-z]{2}$", required=False, allow_blank=True, default="",
                                    help_text="ISO 3166 alpha-2 country code")
    contacts = ContactInSerializer(many=True, required=False, default=list, max_length=10)
    training_consent = StrictBooleanField(
        required=False, default=False,
        help_text="The user's separate consent to their messages training the risk model (final Measures "
                  "Art. 16). Omitted means false: PUT replaces the user, and consent is never assumed.")

    def validate_birth_date(self, value):
        from datetime import date

        if value and value > date.today():
            raise serializers.ValidationError("Must not be in the future.")
        return value


class ContactOutSerializer(serializers.Serializer):
    name = serializers.CharField()
    relationship = serializers.CharField()
    kind = serializers.ChoiceField(["guardian", "emergency"])
    phone = serializers.CharField(help_text="Masked, e.g. +86138****8000")
    priority = serializers.IntegerField()
    verified = serializers.BooleanField()
    verification = serializers.ChoiceField(
        ["verified", "sent", "delayed", "not_required"],
        help_text="`sent`: a confirmation link was texted; `delayed`: the hourly limit of verification texts "
                  "(per number, per product) was reached, the text goes out within the hour after; "
                  "`not_required`: an adult's contact.")


class UserOutSerializer(serializers.Serializer):
    id = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    age_group = serializers.ChoiceField(["minor", "adult", "elder"], allow_null=True)
    locale = serializers.CharField()
    region = serializers.CharField()
    registration = serializers.ChoiceField(["not_required", "pending_verification", "complete", "restricted"])
    dependence_level = serializers.ChoiceField(["none", "low", "medium", "high"],
                                               help_text="Emotional dependence on the AI over the last week.")
    training_consent = serializers.BooleanField(
        help_text="Whether the user consented to their messages training the risk model (as last PUT).")
    contacts = ContactOutSerializer(many=True)


def user_json(end_user: EndUser) -> dict:
    contacts = services.contacts_in_priority(end_user)
    verification = registration.verification_state(end_user, contacts)
    return {
        "id": end_user.external_id,
        "birth_date": end_user.birth_date.isoformat() if end_user.birth_date else None,
        "age_group": end_user.age_group or None,
        "locale": end_user.locale,
        "region": end_user.region,
        "registration": end_user.registration,
        "dependence_level": end_user.dependence_level,
        "training_consent": end_user.training_consent,
        "contacts": [
            {"name": c.name, "relationship": c.relationship, "kind": c.kind, "phone": services.mask_phone(c.phone),
             "priority": c.priority, "verified": c.verified_at is not None, "verification": verification[c.pk]}
            for c in contacts
        ],
    }


class UserView(APIView):
    @extend_schema(operation_id="get_user", responses={200: UserOutSerializer, **ERRORS})
    def get(self, request, user_id):
        end_user = get_object_or_404(EndUser, product=product_of(request), external_id=user_id)
        return Response(user_json(end_user))

    @extend_schema(operation_id="put_user", request=UserInSerializer, responses={200: UserOutSerializer, **ERRORS},
                   description="Create or replace a user and their contacts. Minors need a guardian, elders a "
                   "guardian or emergency contact (422 `contact_required`); phones must be E.164 (422 `invalid_phone`).")
    def put(self, request, user_id):
        serializer = UserInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            end_user = retry_when_locked(lambda: services.register_end_user(
                product_of(request), user_id,
                birth_date=data.get("birth_date"), age_group=data.get("age_group", ""),
                locale=data["locale"], region=data["region"], first_name=data["first_name"],
                contacts=[services.ContactInput(**c) for c in data["contacts"]],
                training_consent=data["training_consent"],
            ))
        except services.RegistrationError as problem:
            from conversations.services import ApiProblem

            raise ApiProblem(422, problem.code, problem.message, problem.fields)
        return Response(user_json(end_user))

    @extend_schema(operation_id="erase_user", request=None,
                   responses={204: None, 401: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
                   description="Erase the user's personal data and texts (final Measures Art. 16); anonymous counts "
                   "stay. 409 `legal_hold` while a legal hold applies. See docs/audit-and-reports.md.")
    def delete(self, request, user_id):
        from .rights import erase_view

        return erase_view(request, user_id)
