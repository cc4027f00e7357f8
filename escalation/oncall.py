"""The on-call roster: who is on shift now, who has the console open, and whether that is enough.

    on_call_now()            shifts running now (operators and supervisors)
    online_users()           staff with an open console socket (ConsolePresence rows)
    summary()                what the console shows: on call, online, and the understaffed warning
    page_for_escalation()    an escalated incident pages the supervisors on shift (all of them if none is)

Shifts are edited in the admin (Shift). Presence rows are written by the console's websocket on
connect and removed on disconnect; a row not seen for PRESENCE_STALE (a crashed server never says
goodbye) no longer counts, and the retention purge removes it.
"""
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from .models import ConsolePresence, Incident, Shift, StaffProfile

PRESENCE_STALE = timedelta(hours=12)  # without a ping; the console refreshes seen_at with `presence.ping`


def on_call_now(now=None):
    now = now or timezone.now()
    return Shift.objects.filter(starts_at__lte=now, ends_at__gt=now, user__is_active=True).select_related("user")


def online_user_ids(now=None) -> set[int]:
    now = now or timezone.now()
    return set(ConsolePresence.objects.filter(seen_at__gte=now - PRESENCE_STALE).values_list("user_id", flat=True))


def summary(now=None) -> dict:
    """The on-call list, who is online and the staffing warning (also in the `queue.snapshot` frame)."""
    from .roles import role_of

    now = now or timezone.now()
    online = online_user_ids(now)
    shifts = list(on_call_now(now))
    operators_on_call = len({s.user_id for s in shifts if s.role == "operator"})
    open_explicit = Incident.objects.filter(level="explicit").exclude(status="resolved").count()
    online_users = []
    if online:
        from django.contrib.auth import get_user_model

        for user in get_user_model().objects.filter(pk__in=online).prefetch_related("groups").order_by("username"):
            online_users.append({"user": user.get_username(), "name": user.get_full_name() or None,
                                 "role": role_of(user)})
    return {
        "on_call": [{"user": s.user.get_username(), "name": s.user.get_full_name() or None, "role": s.role,
                     "since": s.starts_at.isoformat(), "until": s.ends_at.isoformat(), "online": s.user_id in online}
                    for s in shifts],
        "online": online_users,
        "open_explicit": open_explicit,
        "operators_on_call": operators_on_call,
        # More open explicit incidents than operators on call: the roster does not match the load.
        "understaffed": open_explicit > operators_on_call,
    }


def upcoming(now=None, hours=24):
    now = now or timezone.now()
    return Shift.objects.filter(starts_at__gt=now, starts_at__lte=now + timedelta(hours=hours)).select_related("user")


# --- paging ------------------------------------------------------------------------------------

def supervisors_to_page(now=None) -> tuple[list[StaffProfile], bool]:
    """The supervisors on shift now who have a phone; all supervisors (and admins) with a phone when
    none is on shift. Returns (profiles, fell_back)."""
    now = now or timezone.now()
    with_phone = StaffProfile.objects.exclude(phone="").filter(user__is_active=True).select_related("user")
    on_shift = list(with_phone.filter(user__shifts__role="supervisor", user__shifts__starts_at__lte=now,
                                      user__shifts__ends_at__gt=now).distinct().order_by("user__username"))
    if on_shift:
        return on_shift, False
    everyone = with_phone.filter(Q(user__groups__name__in=("supervisor", "admin")) | Q(user__is_superuser=True))
    return list(everyone.distinct().order_by("user__username")), True


def page_for_escalation(incident, now=None) -> dict:
    """Page by SMS the supervisors on shift about an escalated incident (inside its transaction)."""
    from contacts import chain

    profiles, fell_back = supervisors_to_page(now)
    pages = chain.page_staff(incident, profiles)
    return {"paged": [n.staff.get_username() for n in pages], "fallback": fell_back}


# --- presence (escalation.consumers) -------------------------------------------------------------

def connected(user, channel_name):
    now = timezone.now()
    ConsolePresence.objects.update_or_create(channel_name=channel_name,
                                             defaults={"user": user, "connected_at": now, "seen_at": now})


def seen(channel_name):
    ConsolePresence.objects.filter(channel_name=channel_name).update(seen_at=timezone.now())


def disconnected(channel_name):
    ConsolePresence.objects.filter(channel_name=channel_name).delete()
