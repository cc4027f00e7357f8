import pytest

from conversations.models import Conversation, Message, Product
from escalation import takeover
from escalation.models import Incident
from escalation.takeover import TakeoverError

from tests.support.concurrency import at_once

from .helpers import flagged, operator_of, supervisor


def mode_of(incident):
    return Conversation.objects.get(pk=incident.conversation_id).mode


@pytest.mark.django_db
class TestTakeover:
    def test_claim_switches_the_conversation_to_human_and_holds_the_ai(self, api, product):
        incident = flagged(api)
        olive = operator_of(product)
        takeover.claim(olive, incident.pk)
        incident.refresh_from_db()
        assert (incident.status, incident.claimed_by) == ("claimed", olive)
        assert mode_of(incident) == "human"
        response = api.post("/api/v1/conversations/c-1/messages", {"id": "ai-1", "role": "assistant", "text": "hi"},
                            format="json")
        assert response.status_code == 409 and response.json()["error"]["code"] == "human_in_control"
        assert [e.kind for e in incident.events.all()] == ["opened", "claimed"]

    def test_a_second_claim_loses(self, api, product):
        incident = flagged(api)
        takeover.claim(operator_of(product), incident.pk)
        with pytest.raises(TakeoverError) as error:
            takeover.claim(operator_of(product, "otto"), incident.pk)
        assert error.value.code == "already_claimed"

    def test_operator_messages_are_stored_and_readable_by_polling(self, api, product):
        incident = flagged(api)
        olive = operator_of(product)
        with pytest.raises(TakeoverError) as error:
            takeover.send_message(olive, incident.pk, "hello")
        assert error.value.code == "not_claimed"
        takeover.claim(olive, incident.pk)
        message = takeover.send_message(olive, incident.pk, "Hi, I'm Olive. I'm here with you.")
        assert message.role == "operator" and message.operator == olive
        polled = api.get("/api/v1/conversations/c-1/messages").json()["messages"]
        assert polled[-1]["role"] == "operator" and polled[-1]["text"] == "Hi, I'm Olive. I'm here with you."

    def test_empty_or_huge_operator_messages_are_refused(self, api, product):
        incident = flagged(api)
        olive = operator_of(product)
        takeover.claim(olive, incident.pk)
        for text in ("", "   ", "x" * 4001):
            with pytest.raises(TakeoverError):
                takeover.send_message(olive, incident.pk, text)
        assert not Message.objects.filter(role="operator").exists()

    def test_return_to_ai_then_a_new_risk_reopens_it(self, api, product):
        incident = flagged(api)
        olive = operator_of(product)
        takeover.claim(olive, incident.pk)
        takeover.return_to_ai(olive, incident.pk, "user is calmer, has a friend over")
        incident.refresh_from_db()
        assert incident.status == "returned" and mode_of(incident) == "ai"
        assert incident.events.get(kind="returned_to_ai").data["note"] == "user is calmer, has a friend over"
        flagged(api, message_id="m-2", level="high_risk")
        incident.refresh_from_db()
        assert incident.status == "open" and incident.claimed_by is None

    def test_resolve_with_outcome(self, api, product):
        incident = flagged(api)
        olive = operator_of(product)
        takeover.claim(olive, incident.pk)
        with pytest.raises(TakeoverError):
            takeover.resolve(olive, incident.pk, "made-up-outcome")
        takeover.resolve(olive, incident.pk, "safe", "talked it through")
        incident.refresh_from_db()
        assert (incident.status, incident.outcome) == ("resolved", "safe")
        assert incident.resolved_at is not None and mode_of(incident) == "ai"
        # The next risk opens a new incident.
        flagged(api, message_id="m-2")
        assert Incident.objects.filter(conversation_id=incident.conversation_id).count() == 2

    def test_only_the_holder_or_a_supervisor_resolves_a_claimed_incident(self, api, product):
        incident = flagged(api)
        takeover.claim(operator_of(product), incident.pk)
        with pytest.raises(TakeoverError) as error:
            takeover.resolve(operator_of(product, "otto"), incident.pk, "safe")
        assert error.value.code == "not_claimed"
        takeover.resolve(supervisor(), incident.pk, "false_alarm")
        incident.refresh_from_db()
        assert incident.status == "resolved"

    def test_operators_cannot_touch_other_products_incidents(self, api, product):
        incident = flagged(api)
        stranger = operator_of(Product.objects.create(name="other"), "stranger")
        for action in (lambda: takeover.claim(stranger, incident.pk),
                       lambda: takeover.resolve(stranger, incident.pk, "safe")):
            with pytest.raises(TakeoverError) as error:
                action()
            assert error.value.code == "not_found"

    def test_a_malformed_incident_id_is_not_found(self, product):
        with pytest.raises(TakeoverError) as error:
            takeover.claim(supervisor(), "not-a-uuid")
        assert error.value.code == "not_found"


@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_many_simultaneous_claims_wins(api, product):
    incident = flagged(api)
    operators = [operator_of(product, f"op{n}") for n in range(4)]
    results = at_once(*(lambda user=user: takeover.claim(user, incident.pk) for user in operators))
    outcomes = [r.code if isinstance(r, TakeoverError) else "won" for r in results]
    assert sorted(outcomes) == ["already_claimed"] * 3 + ["won"]
    assert incident.events.filter(kind="claimed").count() == 1
