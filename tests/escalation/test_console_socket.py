"""The console websocket end to end: real Redis channel layer, session auth, origin check."""
import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from conversations.models import Product
from escalation.asgi import application

from .helpers import PASSWORD, flagged, operator_of, supervisor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_settings")]
TIMEOUT = 5


def session_cookie(user):
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket(cookie=None, origin=b"http://localhost"):
    headers = [(b"origin", origin)]
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/console/", headers=headers)


def run(coroutine_fn):
    return async_to_sync(coroutine_fn)()


async def receive_until(communicator, frame_type):
    while True:
        frame = await communicator.receive_json_from(timeout=TIMEOUT)
        if frame["type"] == frame_type:
            return frame


def test_anonymous_and_foreign_origin_sockets_are_refused(product):
    olive = session_cookie(operator_of(product))

    async def scenario():
        foreign = socket(olive, origin=b"http://evil.example")
        assert not (await foreign.connect(timeout=TIMEOUT))[0]
        await foreign.disconnect()
        await assert_signed_out(socket(None))

    run(scenario)


async def assert_signed_out(communicator):
    """Accepted only to be closed with 4403, so the browser says "signed out" rather than retrying."""
    assert (await communicator.connect(timeout=TIMEOUT))[0]
    assert await communicator.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4403}
    await communicator.disconnect()


def test_non_staff_and_unverified_two_factor_sockets_are_signed_out(product):
    from django.contrib.auth.models import User

    from escalation.models import RolePolicy

    User.objects.create_user("end_user_account", password=PASSWORD)
    user_cookie = session_cookie(User.objects.get(username="end_user_account"))
    RolePolicy.objects.create(role="operator", require_two_factor=True)
    unverified = session_cookie(operator_of(product))

    async def scenario():
        await assert_signed_out(socket(user_cookie))
        await assert_signed_out(socket(unverified))

    run(scenario)


def test_connect_gets_a_snapshot_of_what_the_operator_may_see(api, product, other_api):
    explicit = flagged(api, "c-1", "explicit")
    flagged(api, "c-2", "high_risk")
    other_api.post("/api/v1/conversations/c-9/messages",
                   {"id": "m", "user": "u", "role": "user", "text": "x", "flag": {"level": "explicit"}}, format="json")
    olive, sue = session_cookie(operator_of(product)), session_cookie(supervisor())

    async def scenario():
        for user, expected in ((olive, 2), (sue, 3)):
            communicator = socket(user)
            assert (await communicator.connect(timeout=TIMEOUT))[0]
            snapshot = await communicator.receive_json_from(timeout=TIMEOUT)
            assert snapshot["type"] == "queue.snapshot"
            assert len(snapshot["incidents"]) == expected
            assert snapshot["incidents"][0]["level"] == "explicit"
            if user is olive:
                assert snapshot["incidents"][0]["id"] == str(explicit.pk)
                assert {i["product"] for i in snapshot["incidents"]} == {"companion-a"}
            await communicator.disconnect()

    run(scenario)


def test_new_incidents_and_messages_are_pushed_to_those_who_may_see_them(api, product, other_api):
    olive = session_cookie(operator_of(product))
    stranger = session_cookie(operator_of(Product.objects.create(name="elsewhere"), "stranger"))

    async def scenario():
        mine, theirs = socket(olive), socket(stranger)
        for communicator in (mine, theirs):
            assert (await communicator.connect(timeout=TIMEOUT))[0]
            await communicator.receive_json_from(timeout=TIMEOUT)  # snapshot
        from channels.db import database_sync_to_async

        await database_sync_to_async(flagged)(api, "c-5", "explicit", text="<b>hi</b>")
        opened = await receive_until(mine, "incident.opened")
        assert opened["incident"]["conversation"] == "c-5" and opened["incident"]["level"] == "explicit"
        created = await receive_until(mine, "message.created")
        assert created["message"]["text"] == "<b>hi</b>"
        assert await theirs.receive_nothing(timeout=0.3), "another product's operator hears nothing"
        for communicator in (mine, theirs):
            await communicator.disconnect()

    run(scenario)


def test_claim_over_the_socket_one_winner_and_an_error_for_the_other(api, product):
    incident = flagged(api)
    olive, otto = session_cookie(operator_of(product)), session_cookie(operator_of(product, "otto"))

    async def scenario():
        first, second = socket(olive), socket(otto)
        for communicator in (first, second):
            assert (await communicator.connect(timeout=TIMEOUT))[0]
            await communicator.receive_json_from(timeout=TIMEOUT)
        await first.send_json_to({"type": "incident.claim", "incident": str(incident.pk)})
        updated = await receive_until(second, "incident.updated")
        assert updated["incident"]["status"] == "claimed" and updated["incident"]["claimed_by"] == "olive"
        await second.send_json_to({"type": "incident.claim", "incident": str(incident.pk)})
        error = await receive_until(second, "error")
        assert error["code"] == "already_claimed"
        await first.send_json_to({"type": "message.send", "incident": str(incident.pk), "text": "I'm here."})
        created = await receive_until(second, "message.created")
        assert created["message"]["role"] == "operator" and created["message"]["operator"] == "olive"
        await first.send_json_to({"type": "incident.resolve", "incident": str(incident.pk), "outcome": "safe"})
        resolved = await receive_until(second, "incident.updated")
        assert resolved["incident"]["status"] == "resolved"
        for communicator in (first, second):
            await communicator.disconnect()

    run(scenario)


def test_bad_frames_get_an_error_not_a_crash(product):
    olive = session_cookie(operator_of(product))

    async def scenario():
        communicator = socket(olive)
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        await communicator.receive_json_from(timeout=TIMEOUT)
        await communicator.send_to(text_data="not json")
        assert (await communicator.receive_json_from(timeout=TIMEOUT))["code"] == "unknown_frame"
        await communicator.send_json_to({"type": "incident.claim", "incident": "nope"})
        assert (await communicator.receive_json_from(timeout=TIMEOUT))["code"] == "not_found"
        await communicator.send_json_to({"type": "incident.claim", "incident": ["list"]})
        assert (await communicator.receive_json_from(timeout=TIMEOUT))["code"] == "not_found"
        await communicator.disconnect()

    run(scenario)


def test_return_to_ai_notify_and_a_reconnect_snapshot(api, product, settings):
    settings.TWILIO_ACCOUNT_SID = ""  # the built-in outbox provider
    api.put("/api/v1/users/u-1", {"birth_date": "2012-01-01", "contacts": [
        {"name": "Li Hua", "kind": "guardian", "phone": "+8613800138000"}]}, format="json")
    incident = flagged(api)
    olive = session_cookie(operator_of(product))

    async def scenario():
        first = socket(olive)
        assert (await first.connect(timeout=TIMEOUT))[0]
        await first.receive_json_from(timeout=TIMEOUT)
        await first.send_json_to({"type": "contacts.notify", "incident": str(incident.pk)})
        notified = await receive_until(first, "notification.updated")
        assert notified["notification"]["kind"] == "sms" and notified["notification"]["phone"] == "+86138****8000"
        await first.send_json_to({"type": "contacts.notify", "incident": str(incident.pk)})
        assert (await receive_until(first, "error"))["code"] == "already_notified"
        await first.send_json_to({"type": "incident.claim", "incident": str(incident.pk)})
        await receive_until(first, "incident.updated")
        await first.send_json_to({"type": "incident.return_to_ai", "incident": str(incident.pk),
                                  "note": "calmer now"})
        returned = await receive_until(first, "incident.updated")
        assert returned["incident"]["status"] == "returned" and returned["incident"]["mode"] == "ai"
        await first.disconnect()

        again = socket(olive)  # a reconnect: the snapshot has the incident as it is now
        assert (await again.connect(timeout=TIMEOUT))[0]
        snapshot = await again.receive_json_from(timeout=TIMEOUT)
        assert snapshot["type"] == "queue.snapshot"
        assert [(i["id"], i["status"]) for i in snapshot["incidents"]] == [(str(incident.pk), "returned")]
        await again.disconnect()

    run(scenario)
