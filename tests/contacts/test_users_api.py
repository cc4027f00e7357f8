from datetime import date

import pytest

from contacts.models import Contact, EndUser
from contacts.services import mask_phone

GUARDIAN = {"name": "李华", "relationship": "mother", "kind": "guardian", "phone": "+8613800138000", "priority": 1}


def years_ago(years):
    today = date.today()
    return today.replace(year=today.year - years, day=min(today.day, 28)).isoformat()


def put_user(api, user_id, **body):
    return api.put(f"/api/v1/users/{user_id}", body, format="json")


@pytest.mark.django_db
class TestRegistrationRules:
    def test_adult_without_contacts_needs_no_registration(self, api):
        response = put_user(api, "u-1", birth_date=years_ago(30), locale="en", region="US")
        assert response.status_code == 200, response.json()
        assert response.json()["age_group"] == "adult"
        assert response.json()["registration"] == "not_required"

    def test_minor_without_guardian_is_refused_and_nothing_stored(self, api):
        emergency = {**GUARDIAN, "kind": "emergency"}
        response = put_user(api, "kid", birth_date=years_ago(12), region="CN", contacts=[emergency])
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "contact_required"
        assert "contacts" in response.json()["error"]["fields"]
        assert not EndUser.objects.filter(external_id="kid").exists()
        assert not Contact.objects.exists()

    def test_minor_with_guardian_is_pending_verification_with_masked_phone(self, api):
        response = put_user(api, "kid", birth_date=years_ago(12), locale="zh-CN", region="CN", contacts=[GUARDIAN])
        assert response.status_code == 200
        body = response.json()
        assert body["age_group"] == "minor"
        assert body["registration"] == "pending_verification"
        assert body["contacts"] == [{"name": "李华", "relationship": "mother", "kind": "guardian",
                                     "phone": "+86138****8000", "priority": 1, "verified": False,
                                     "verification": "sent"}]
        assert Contact.objects.get().phone == "+8613800138000"  # stored whole, shown masked

    def test_declared_age_group_applies_without_birth_date(self, api):
        response = put_user(api, "old", age_group="elder")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "contact_required"

    def test_elder_accepts_an_emergency_contact(self, api):
        response = put_user(api, "old", birth_date=years_ago(70), contacts=[{**GUARDIAN, "kind": "emergency"}])
        assert response.status_code == 200
        assert response.json()["age_group"] == "elder"

    def test_birth_date_wins_over_declared_age_group(self, api):
        response = put_user(api, "kid", birth_date=years_ago(15), age_group="adult")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "contact_required"

    def test_invalid_phone_names_the_contact(self, api):
        contacts = [GUARDIAN, {**GUARDIAN, "phone": "12345"}]
        response = put_user(api, "kid", birth_date=years_ago(12), contacts=contacts)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_phone"
        assert list(response.json()["error"]["fields"]) == ["contacts[1].phone"]
        assert not EndUser.objects.exists()

    def test_phone_is_normalised_to_e164(self, api):
        response = put_user(api, "kid", birth_date=years_ago(12), contacts=[{**GUARDIAN, "phone": "+86 138-0013-8000"}])
        assert response.status_code == 200
        assert Contact.objects.get().phone == "+8613800138000"

    def test_birth_date_in_the_future_is_refused(self, api):
        response = put_user(api, "u", birth_date="2999-01-01")
        assert response.status_code == 422
        assert "birth_date" in response.json()["error"]["fields"]

    def test_put_replaces_contacts_and_keeps_verification_of_unchanged_phone(self, api):
        put_user(api, "kid", birth_date=years_ago(12), contacts=[GUARDIAN])
        Contact.objects.update(verified_at="2026-01-01T00:00:00Z")
        second = {**GUARDIAN, "name": "王强", "phone": "+8613900139000", "priority": 2}
        response = put_user(api, "kid", birth_date=years_ago(12), contacts=[GUARDIAN, second])
        assert response.status_code == 200
        assert [c["verified"] for c in response.json()["contacts"]] == [True, False]
        assert response.json()["registration"] == "complete"
        assert Contact.objects.count() == 2

    def test_get_returns_the_user(self, api):
        put_user(api, "kid", birth_date=years_ago(12), contacts=[GUARDIAN])
        response = api.get("/api/v1/users/kid")
        assert response.status_code == 200
        assert response.json()["id"] == "kid"
        assert response.json()["contacts"][0]["phone"] == "+86138****8000"

    def test_unknown_user_is_404(self, api):
        response = api.get("/api/v1/users/nobody")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    def test_another_products_user_is_404(self, api, other_api):
        put_user(api, "kid", birth_date=years_ago(12), contacts=[GUARDIAN])
        assert other_api.get("/api/v1/users/kid").status_code == 404
        # ...and a PUT under the same id creates B's own user, leaving A's untouched.
        assert put_user(other_api, "kid", age_group="adult").status_code == 200
        assert EndUser.objects.filter(external_id="kid").count() == 2
        assert api.get("/api/v1/users/kid").json()["age_group"] == "minor"

    def test_user_id_over_128_characters_is_404(self, api):
        assert api.get("/api/v1/users/" + "x" * 129).status_code == 404


@pytest.mark.parametrize("phone,masked", [
    ("+8613800138000", "+86138****8000"),
    ("+14155550123", "+1415***0123"),
])
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.django_db
class TestTrainingConsent:
    """Final Measures Art. 16: the user's separate consent to training, as the product says it."""

    def test_round_trip_default_false_and_audited_when_it_changes(self, api):
        from escalation.models import AuditEntry

        assert put_user(api, "u-1", region="US").json()["training_consent"] is False
        assert not AuditEntry.objects.filter(action="user.training_consent").exists()
        response = put_user(api, "u-1", region="US", training_consent=True)
        assert response.status_code == 200 and response.json()["training_consent"] is True
        assert api.get("/api/v1/users/u-1").json()["training_consent"] is True
        assert EndUser.objects.get(external_id="u-1").training_consent is True
        put_user(api, "u-1", region="US", training_consent=True)  # unchanged: no new entry
        put_user(api, "u-1", region="US")  # PUT replaces: omitted is withdrawn, never assumed
        assert api.get("/api/v1/users/u-1").json()["training_consent"] is False
        entries = AuditEntry.objects.filter(action="user.training_consent").order_by("id")
        assert [e.data["consent"] for e in entries] == [True, False]
        assert entries[0].actor_label == "product:companion-a" and entries[0].end_user_id is not None

    @pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, [], {}])
    def test_anything_but_true_or_false_is_refused(self, api, value):
        response = put_user(api, "u-1", training_consent=value)
        assert response.status_code == 422, value
        assert response.json()["error"]["code"] == "invalid"
        assert "training_consent" in response.json()["error"]["fields"]
        assert not EndUser.objects.exists()
