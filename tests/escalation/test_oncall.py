"""The on-call roster: who is on call now, who is online, the understaffed warning, and paging the
supervisors on shift when an incident is escalated."""
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from contacts import chain
from contacts.models import Notification
from escalation import live, oncall
from escalation.escalate import escalate_overdue
from escalation.models import AuditEntry, ConsolePresence, Incident, Shift, StaffProfile
from escalation.roles import create_staff

from .helpers import PASSWORD, flagged, operator_of, supervisor

HOUR = timedelta(hours=1)


def shift(user, role, start, end):
    return Shift.objects.create(user=user, role=role, starts_at=start, ends_at=end)


def with_phone(user, phone):
    profile, _ = StaffProfile.objects.get_or_create(user=user)
    profile.phone = phone
    profile.save()
    return user


@pytest.mark.django_db
class TestRoster:
    def test_on_call_now_online_and_the_understaffed_warning(self, api, product):
        now = timezone.now()
        olive, otto, sue = operator_of(product), operator_of(product, "otto"), supervisor()
        shift(olive, "operator", now - HOUR, now + HOUR)
        shift(otto, "operator", now - 3 * HOUR, now - HOUR)  # finished
        shift(otto, "operator", now + HOUR, now + 3 * HOUR)  # later
        shift(sue, "supervisor", now - HOUR, now + 8 * HOUR)
        oncall.connected(olive, "channel-1")
        flagged(api, conversation="c-1", user="u-1")
        summary = oncall.summary(now)
        assert sorted((s["user"], s["role"], s["online"]) for s in summary["on_call"]) == [
            ("olive", "operator", True), ("sue", "supervisor", False)]
        assert summary["online"] == [{"user": "olive", "name": None, "role": "operator"}]
        assert (summary["open_explicit"], summary["operators_on_call"], summary["understaffed"]) == (1, 1, False)

        flagged(api, conversation="c-2", user="u-2")  # two explicit incidents, one operator on call
        assert oncall.summary(now)["understaffed"] is True
        flagged(api, conversation="c-3", user="u-3", level="high_risk")  # only explicit ones count
        assert oncall.summary(now)["open_explicit"] == 2
        oncall.disconnected("channel-1")
        assert oncall.summary(now)["online"] == []

    def test_a_stale_presence_does_not_count(self, product):
        olive = operator_of(product)
        oncall.connected(olive, "channel-1")
        ConsolePresence.objects.update(seen_at=timezone.now() - oncall.PRESENCE_STALE - HOUR)
        assert oncall.online_user_ids() == set()
        oncall.seen("channel-1")  # a presence.ping
        assert oncall.online_user_ids() == {olive.pk}

    def test_the_snapshot_and_oncall_json_carry_the_roster(self, api, product):
        now = timezone.now()
        olive = operator_of(product)
        shift(olive, "operator", now - HOUR, now + HOUR)
        shift(supervisor(), "supervisor", now + HOUR, now + 2 * HOUR)
        flagged(api)
        flagged(api, conversation="c-2", user="u-2")
        snapshot = live.snapshot(olive)
        assert snapshot["type"] == "queue.snapshot" and len(snapshot["incidents"]) == 2
        assert [s["user"] for s in snapshot["on_call"]] == ["olive"] and snapshot["understaffed"] is True
        client = Client()
        assert client.get("/console/oncall.json").status_code == 302  # staff only
        client.force_login(olive)
        body = client.get("/console/oncall.json").json()
        assert body["on_call"][0]["user"] == "olive" and body["understaffed"] is True
        assert [(s["user"], s["role"]) for s in body["upcoming"]] == [("sue", "supervisor")]


@pytest.mark.django_db
class TestPaging:
    def escalate(self, api, settings):
        incident = flagged(api)
        Incident.objects.filter(pk=incident.pk).update(opened_at=timezone.now() - timedelta(seconds=61))
        assert escalate_overdue() == 1
        return incident

    def pages(self, incident):
        return {(n.staff.username, n.to_phone, n.step) for n in Notification.objects.filter(incident=incident,
                                                                                             kind="page")}

    def test_the_supervisors_on_shift_are_paged_not_those_off_shift(self, api, settings):
        now = timezone.now()
        sue = with_phone(supervisor("sue"), "+15005550001")
        sam = with_phone(supervisor("sam"), "+15005550002")
        shift(sue, "supervisor", now - HOUR, now + HOUR)
        shift(sam, "supervisor", now + HOUR, now + 9 * HOUR)  # not yet
        incident = self.escalate(api, settings)
        assert self.pages(incident) == {("sue", "+15005550001", chain.ESCALATION_PAGE_STEP_BASE)}
        entry = AuditEntry.objects.get(action="incident.escalated")
        assert entry.data["paged"] == ["sue"] and entry.data["fallback"] is False

    def test_an_operator_on_shift_is_not_paged(self, api, settings, product):
        now = timezone.now()
        olive = with_phone(operator_of(product), "+15005550003")
        shift(olive, "operator", now - HOUR, now + HOUR)
        sue = with_phone(supervisor("sue"), "+15005550001")
        shift(sue, "supervisor", now - HOUR, now + HOUR)
        incident = self.escalate(api, settings)
        assert {p[0] for p in self.pages(incident)} == {"sue"}

    def test_with_nobody_on_shift_every_supervisor_is_paged(self, api, settings):
        with_phone(supervisor("sue"), "+15005550001")
        with_phone(supervisor("sam"), "+15005550002")
        with_phone(create_staff("ada", PASSWORD, "admin"), "+15005550004")
        supervisor("sid")  # no phone: cannot be paged
        incident = self.escalate(api, settings)
        base = chain.ESCALATION_PAGE_STEP_BASE
        assert self.pages(incident) == {("ada", "+15005550004", base), ("sam", "+15005550002", base + 1),
                                        ("sue", "+15005550001", base + 2)}
        assert AuditEntry.objects.get(action="incident.escalated").data["fallback"] is True

    def test_escalation_pages_do_not_stop_the_contact_chain(self, api, settings):
        api.put("/api/v1/users/u-1", {"age_group": "minor", "contacts": [
            {"name": "Mum", "kind": "guardian", "phone": "+8613800138000"}]}, format="json")
        Notification.objects.all().delete()  # the verification text
        with_phone(supervisor("sue"), "+15005550001")
        incident = self.escalate(api, settings)
        assert Notification.objects.filter(incident=incident).count() == 1  # the page
        Incident.objects.filter(pk=incident.pk).update(opened_at=timezone.now() - timedelta(seconds=301))
        assert chain.sweep()["auto_started"] == 1
        assert Notification.objects.filter(incident=incident, kind="sms", step=0).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("redis_settings")
def test_an_open_console_socket_is_online(product):
    from .test_console_socket import TIMEOUT, receive_until, run, session_cookie, socket

    olive = operator_of(product)
    cookie = session_cookie(olive)

    async def scenario():
        communicator = socket(cookie)
        connected, _ = await communicator.connect(timeout=TIMEOUT)
        assert connected
        snapshot = await receive_until(communicator, "queue.snapshot")
        assert "on_call" in snapshot and "understaffed" in snapshot
        from channels.db import database_sync_to_async

        assert await database_sync_to_async(oncall.online_user_ids)() == {olive.pk}
        await communicator.send_json_to({"type": "presence.ping"})
        await communicator.disconnect()
        assert await database_sync_to_async(oncall.online_user_ids)() == set()

    run(scenario)
