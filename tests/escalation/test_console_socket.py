"""The console websocket end to end: real Redis channel layer, session auth, origin check."""
import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from conversations.models import Product
from escalation.asgi import application

from .helpers import PASSWORD, flagged, operator_of, supervisor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_settings")]
TIMEOUT = 5


def signed_in(user):
    """A logged-in test client and its session cookie, for a socket of the same session."""
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client, f"sessionid={client.cookies['sessionid'].value}".encode()


def session_cookie(user):
    return signed_in(user)[1]


def socket(cookie=None, origin=None):
    """A socket from a page of the console's own origin (PUBLIC_BASE_URL) unless told otherwise."""
    headers = [(b"origin", origin or settings.PUBLIC_BASE_URL.encode())]
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


def test_only_the_consoles_own_origins_may_open_the_socket_scheme_host_and_port(product, settings):
    """Issue 12, item 8: a page on http://localhost:9999 read the queue (only the host was compared)."""
    settings.PUBLIC_BASE_URL = "http://localhost:8000"
    settings.CSRF_TRUSTED_ORIGINS = ["http://localhost:8000", "https://console.example.org"]
    olive = session_cookie(operator_of(product))
    refused = [b"http://localhost:9999", b"http://localhost", b"https://localhost:8000", b"ws://localhost:8000",
               b"http://127.0.0.1:8000", b"http://console.example.org", b"https://console.example.org:8443",
               b"https://evil.console.example.org", b"null", b"localhost:8000"]
    allowed = [b"http://localhost:8000", b"https://console.example.org", b"https://console.example.org:443",
               b"HTTP://LOCALHOST:8000"]

    async def scenario():
        for origin in refused:
            communicator = socket(olive, origin=origin)
            assert not (await communicator.connect(timeout=TIMEOUT))[0], origin
            await communicator.disconnect()
        for origin in allowed:
            communicator = socket(olive, origin=origin)
            assert (await communicator.connect(timeout=TIMEOUT))[0], origin
            assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "queue.snapshot"
            await communicator.disconnect()
        no_origin = WebsocketCommunicator(application, "/ws/console/", headers=[(b"cookie", olive)])
        assert not (await no_origin.connect(timeout=TIMEOUT))[0]
        await no_origin.disconnect()

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


def test_malformed_frames_get_an_error_frame_and_the_socket_stays_open(api, product):
    """Issue 12, item 14: a malformed frame closed the sender's socket with 1011."""
    incident = flagged(api)
    olive = session_cookie(operator_of(product))
    pk = str(incident.pk)
    malformed = ["not json", "[1, 2]", "42", '"a string"', "null", "[[[[" * 5000, '{"type": ["incident.claim"]}',
                 '{"type": {"a": 1}}', '{"type": 7}',
                 {"type": "incident.claim"}, {"type": "incident.claim", "incident": 5},
                 {"type": "incident.claim", "incident": ["list"]}, {"type": "incident.claim", "incident": {"id": pk}},
                 {"type": "message.send", "incident": pk}, {"type": "message.send", "incident": pk, "text": 42},
                 {"type": "message.send", "incident": pk, "text": {"a": "b"}},
                 {"type": "message.send", "incident": pk, "text": ["hi"]},
                 {"type": "message.send", "incident": pk, "text": "nul\x00byte"},
                 {"type": "incident.return_to_ai", "incident": pk, "note": 3},
                 {"type": "incident.resolve", "incident": pk, "outcome": ["safe"]},
                 {"type": "incident.resolve", "incident": pk, "outcome": "safe", "note": {"x": 1}},
                 {"type": "contacts.notify", "incident": True}]

    async def scenario():
        communicator = socket(olive)
        assert (await communicator.connect(timeout=TIMEOUT))[0]
        await communicator.receive_json_from(timeout=TIMEOUT)
        for frame in malformed:
            if isinstance(frame, str):
                await communicator.send_to(text_data=frame)
            else:
                await communicator.send_json_to(frame)
            error = await communicator.receive_json_from(timeout=TIMEOUT)
            assert error["type"] == "error" and error["code"] == "invalid_frame", (frame, error)
            assert error["incident"] in (None, pk) and error["message"]
        await communicator.send_to(bytes_data=b"\x00\x01")
        assert (await communicator.receive_json_from(timeout=TIMEOUT))["code"] == "invalid_frame"
        # Well-formed but wrong stays what it was: an unknown type, an incident that does not exist.
        await communicator.send_json_to({"type": "incident.steal", "incident": pk})
        assert (await communicator.receive_json_from(timeout=TIMEOUT))["code"] == "unknown_frame"
        await communicator.send_json_to({"type": "incident.claim", "incident": "nope"})
        assert (await communicator.receive_json_from(timeout=TIMEOUT))["code"] == "not_found"
        # And the socket still works.
        await communicator.send_json_to({"type": "incident.claim", "incident": pk})
        assert (await receive_until(communicator, "incident.updated"))["incident"]["status"] == "claimed"
        await communicator.send_json_to({"type": "message.send", "incident": pk, "text": "I'm here."})
        assert (await receive_until(communicator, "message.created"))["message"]["text"] == "I'm here."
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


def test_risk_labels_over_the_socket_for_those_who_may_see_the_incident_only(api, product):
    """The feedback loop's actions (escalation.feedback): the label comes back to every console of
    the product as `feedback.updated`; an operator of another product gets `not_found` and hears nothing."""
    from conversations.models import RiskFeedback

    incident = flagged(api, level="high_risk", text="this traffic is killing me")
    pk = str(incident.pk)
    olive = session_cookie(operator_of(product))
    stranger = session_cookie(operator_of(Product.objects.create(name="elsewhere"), "stranger"))

    async def scenario():
        mine, theirs = socket(olive), socket(stranger)
        for communicator in (mine, theirs):
            assert (await communicator.connect(timeout=TIMEOUT))[0]
            await communicator.receive_json_from(timeout=TIMEOUT)  # snapshot
        await theirs.send_json_to({"type": "message.mark_not_risk", "incident": pk, "message": "m-1"})
        assert (await receive_until(theirs, "error"))["code"] == "not_found"
        await mine.send_json_to({"type": "message.mark_missed_risk", "incident": pk, "message": "m-1", "level": 3,
                                 "category": "suicide"})
        assert (await receive_until(mine, "error"))["code"] == "invalid_frame"
        await mine.send_json_to({"type": "message.mark_not_risk", "incident": pk, "message": "m-1"})
        updated = await receive_until(mine, "feedback.updated")
        assert updated["incident"] == pk and updated["message"] == "m-1"
        assert updated["feedback"]["verdict"] == "not_risk" and updated["feedback"]["by"] == "olive"
        await mine.send_json_to({"type": "message.mark_missed_risk", "incident": pk, "message": "m-1",
                                 "level": "explicit", "category": "suicide"})
        updated = await receive_until(mine, "feedback.updated")
        assert (updated["feedback"]["level"], updated["feedback"]["state"]) == ("explicit", "proposed")
        assert await theirs.receive_nothing(timeout=0.3), "another product's operator hears nothing"
        for communicator in (mine, theirs):
            await communicator.disconnect()

    run(scenario)
    assert RiskFeedback.objects.get().proposed_by.username == "olive"
