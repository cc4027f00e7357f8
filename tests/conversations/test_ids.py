"""External ids are opaque and exact (issue 12, item 13): no two ids collide, whatever characters
they hold, and case matters everywhere, on SQLite too (its LIKE, which Django's `contains` and
`startswith` use there, ignores ASCII case)."""
import pytest

from conversations.models import IdempotentRequest, Message
from escalation import webhooks
from escalation.models import WebhookEvent

pytestmark = pytest.mark.django_db


def post(api, conversation, message_id, user="u-1", text="Hello"):
    return api.post(f"/api/v1/conversations/{conversation}/messages",
                    {"id": message_id, "user": user, "role": "user", "text": text}, format="json")


class TestIdempotencyKeys:
    def test_ids_with_colons_do_not_collide(self, api):
        assert post(api, "a", "b:c").status_code == 201
        assert post(api, "a:b", "c").status_code == 201  # was a false 409: both were "message:a:b:c"
        assert post(api, "a", "b:c").status_code == 200 and post(api, "a:b", "c").status_code == 200
        assert Message.objects.count() == 2

    def test_a_conflict_names_the_whole_message_id(self, api):
        assert post(api, "a", "b:c").status_code == 201
        response = post(api, "a", "b:c", text="Something else")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "idempotency_conflict"
        assert response.json()["error"]["fields"] == {"id": "b:c"}

    def flag(self, api, key):
        return api.post("/api/v1/flags", {"conversation": "c-1", "user": "u-1", "level": "high_risk"}, format="json",
                        HTTP_IDEMPOTENCY_KEY=key)

    def test_an_idempotency_key_over_200_characters_is_refused(self, api):
        response = self.flag(api, "k" * 201)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "idempotency_key_too_long"
        assert not IdempotentRequest.objects.exists() and not Message.objects.exists()


class TestErasureIsCaseSensitive:
    @pytest.fixture
    def two_users(self, api, product):
        """`U-1` and `u-1`: two users of one product, each with a conversation, a replayable flag and webhooks."""
        product.webhook_url = "https://product.example/hook"
        product.save()
        for user, conversation in (("U-1", "C-1"), ("u-1", "c-1")):
            assert api.put(f"/api/v1/users/{user}", {"age_group": "adult"}, format="json").status_code == 200
            assert post(api, conversation, "m-1", user=user).status_code == 201
            assert api.post("/api/v1/flags", {"conversation": conversation, "user": user, "level": "distress"},
                            format="json", HTTP_IDEMPOTENCY_KEY=f"flag-{user}").status_code == 201
            webhooks.enqueue(product, "user.registration_restricted", {"user": user})
            webhooks.enqueue(product, "conversation.returned_to_ai",
                             {"conversation": conversation, "incident": "i", "note": ""})

    def test_erasing_one_user_leaves_the_other_users_rows(self, api, two_users):
        kept_before = self.kept()
        assert api.delete("/api/v1/users/U-1").status_code == 204
        assert self.kept() == kept_before  # u-1's webhooks and stored answers are all still there
        assert WebhookEvent.objects.count() == 2
        assert IdempotentRequest.objects.count() == 2
        assert post(api, "c-1", "m-1", user="u-1").status_code == 200  # u-1's retry still gets its first answer

    @staticmethod
    def kept():
        """u-1's rows, found in Python (a `contains` filter would itself ignore case on SQLite)."""
        bodies = sorted(WebhookEvent.objects.values_list("body", flat=True))
        answers = sorted(map(str, IdempotentRequest.objects.values_list("key", "response")))
        # Matched by quoted id: a bare "c-1" can also occur inside another row's incident UUID.
        return ([b for b in bodies if '"u-1"' in b or '"c-1"' in b],
                [a for a in answers if "'c-1'" in a or ":c-1:" in a or "flag-u-1" in a])


def test_answers_stored_before_the_upgrade_are_rekeyed(api, product):
    import importlib

    from django.apps import apps

    assert post(api, "a", "b:c").status_code == 201
    stored = IdempotentRequest.objects.get()
    IdempotentRequest.objects.update(key="message:a:b:c")  # the form before this change
    importlib.import_module("conversations.migrations.0006_message_idempotency_keys_with_length").rekey(apps, None)
    assert IdempotentRequest.objects.get().key == "message:1:a:b:c"
    assert post(api, "a", "b:c").status_code == 200 and stored.response == post(api, "a", "b:c").json()
