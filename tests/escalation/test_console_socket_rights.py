"""An open console socket follows its user's rights (issue 12, item 2): real Redis channel layer,
real sessions. Logout and an admin's changes act at once (the periodic re-check is set to an hour
here, so only the signal can close the socket); the periodic re-check is tested on its own."""
import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group, User
from django.contrib.sessions.models import Session
from django.utils import timezone

from conversations.models import Message, Product
from escalation import live
from escalation.models import Incident, StaffProfile

from .helpers import flagged, operator_of, supervisor
from .test_console_socket import TIMEOUT, receive_until, run, signed_in, socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_settings")]


@pytest.fixture(autouse=True)
def no_periodic_recheck(settings):
    settings.CONSOLE_RECHECK_SECONDS = 3600


async def connected(cookie):
    communicator = socket(cookie)
    assert (await communicator.connect(timeout=TIMEOUT))[0]
    snapshot = await communicator.receive_json_from(timeout=TIMEOUT)
    assert snapshot["type"] == "queue.snapshot"
    return communicator, snapshot


async def assert_closed_signed_out(communicator):
    """Whatever frames come first, the socket ends with 4403 (the console goes to the login page)."""
    while True:
        output = await communicator.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            assert output["code"] == 4403
            break
    await communicator.disconnect()


def deactivate(user):
    user.is_active = False
    user.save()


def no_longer_staff(user):
    user.is_staff = False
    user.save()


def delete_sessions(user):
    for session in Session.objects.all():
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            session.delete()  # as the admin or a script does: the model's delete


@pytest.mark.parametrize("change", ["logout", "deactivated", "deleted", "sessions_deleted", "no_longer_staff"])
def test_logout_and_admin_changes_close_the_socket_at_once(product, change):
    olive = operator_of(product)
    client, cookie = signed_in(olive)
    changes = {
        "logout": lambda: client.post("/accounts/logout/"),
        "deactivated": lambda: deactivate(olive),
        "deleted": lambda: olive.delete(),
        "sessions_deleted": lambda: delete_sessions(olive),
        "no_longer_staff": lambda: no_longer_staff(olive),
    }

    async def scenario():
        communicator, _ = await connected(cookie)
        await database_sync_to_async(changes[change])()
        await assert_closed_signed_out(communicator)

    run(scenario)


def test_a_supervisor_made_operator_gets_a_new_snapshot_and_no_more_frames_of_other_products(api, product,
                                                                                              other_api):
    flagged(api, "c-1")
    other_api.post("/api/v1/conversations/c-9/messages",
                   {"id": "m", "user": "u", "role": "user", "text": "x", "flag": {"level": "explicit"}}, format="json")
    elsewhere = Product.objects.get(name="companion-b")
    sue = supervisor()
    _, cookie = signed_in(sue)

    def demote():
        sue.groups.set([Group.objects.get_or_create(name="operator")[0]])
        StaffProfile.objects.get_or_create(user=sue)[0].products.add(product)
        # Broadcast before the socket has handled the re-check (its database calls wait for this
        # function): already queued for the supervisors' group, and it must still not reach her.
        live.send_to_groups([live.SUPERVISORS_GROUP], {"type": "incident.updated", "marker": "supervisors"})

    async def scenario():
        communicator, snapshot = await connected(cookie)
        assert {i["product"] for i in snapshot["incidents"]} == {"companion-a", "companion-b"}
        await database_sync_to_async(demote)()
        fresh = await communicator.receive_json_from(timeout=TIMEOUT)
        assert fresh["type"] == "queue.snapshot", fresh
        assert {i["product"] for i in fresh["incidents"]} == {"companion-a"}
        # Her own product's next frame is the next she gets: the supervisors' one was dropped.
        await database_sync_to_async(live.send_to_groups)([live.product_group(product.pk)],
                                                          {"type": "incident.updated", "marker": "mine"})
        assert (await communicator.receive_json_from(timeout=TIMEOUT)).get("marker") == "mine"
        await communicator.send_json_to({"type": "incident.claim", "incident": str(
            await database_sync_to_async(lambda: Incident.objects.get(product=elsewhere).pk)())})
        assert (await receive_until(communicator, "error"))["code"] == "not_found"
        await communicator.disconnect()

    run(scenario)


def test_an_operator_removed_from_a_product_hears_nothing_more_of_it(api, product, other_api):
    olive = operator_of(product)
    elsewhere = Product.objects.get(name="companion-b")
    olive.staff_profile.products.add(elsewhere)
    _, cookie = signed_in(olive)

    def remove_and_post():
        olive.staff_profile.products.remove(product)
        # Both are broadcast before the socket has handled the re-check.
        flagged(api, "c-secret", text="a secret of companion-a")
        other_api.post("/api/v1/conversations/c-b/messages", {"id": "m", "user": "u", "role": "user",
                                                            "text": "for olive", "flag": {"level": "explicit"}},
                       format="json")

    async def scenario():
        communicator, _ = await connected(cookie)
        await database_sync_to_async(remove_and_post)()
        seen = []
        while True:
            frame = await communicator.receive_json_from(timeout=TIMEOUT)
            seen.append(frame)
            if frame["type"] == "message.created":
                break
        assert frame["message"]["text"] == "for olive"
        assert "companion-a" not in str(seen) and "c-secret" not in str(seen), seen
        snapshots = [f for f in seen if f["type"] == "queue.snapshot"]
        assert len(snapshots) == 1 and {i["product"] for i in snapshots[0]["incidents"]} <= {"companion-b"}
        await communicator.disconnect()

    run(scenario)


def test_a_deactivated_supervisor_can_neither_claim_nor_write(api, product):
    """Deactivated in SQL, which no signal reports: the re-check before the action refuses it."""
    first, second = flagged(api, "c-1"), flagged(api, "c-2")
    sue = supervisor()
    _, cookie = signed_in(sue)

    async def scenario():
        writer, _ = await connected(cookie)
        claimer, _ = await connected(cookie)
        await writer.send_json_to({"type": "incident.claim", "incident": str(first.pk)})
        assert (await receive_until(writer, "incident.updated"))["incident"]["status"] == "claimed"
        await database_sync_to_async(User.objects.filter(pk=sue.pk).update)(is_active=False)

        await writer.send_json_to({"type": "message.send", "incident": str(first.pk), "text": "still here?"})
        await assert_closed_signed_out(writer)
        await claimer.send_json_to({"type": "incident.claim", "incident": str(second.pk)})
        await assert_closed_signed_out(claimer)

    run(scenario)
    assert not Message.objects.filter(role="operator").exists()
    second.refresh_from_db()
    assert second.status == "open" and second.claimed_by is None


def test_the_periodic_recheck_closes_a_socket_whose_session_expired(product, settings):
    settings.CONSOLE_RECHECK_SECONDS = 0.1
    olive = operator_of(product)
    _, cookie = signed_in(olive)

    async def scenario():
        communicator, _ = await connected(cookie)
        # Expired in SQL: no signal, only the periodic re-check can notice.
        await database_sync_to_async(Session.objects.update)(expire_date=timezone.now())
        await assert_closed_signed_out(communicator)

    run(scenario)
