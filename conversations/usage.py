"""Usage time (Measures Art. 18): continuous-use reminders and emotional-dependence signals.

A stretch of use is a run of user messages with no gap of `break_gap_minutes` or more; a reminder
is due each time the stretch reaches another `break_every_minutes`. Where the region asks for it
(`ai_identity_every_minutes`, NY GBL Art. 47), a reminder that the user talks to an AI is due on
the same clock. Dependence comes from the last week of use: daily minutes, late-night use and
dependence phrases ("you are my only friend", recognised by the risk engine).
"""
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from escalation.regions import region_rules

from .models import UsageDay

LATE_NIGHT_HOURS = range(0, 5)  # 00:00-04:59 local time
DEPENDENCE_WINDOW_DAYS = 7


@dataclass
class Usage:
    minutes: int = 0
    break_due: bool = False
    ai_notice_due: bool = False
    dependence_level: str = "none"
    dependence_reminder_due: bool = False


def record_activity(end_user, at, *, dependence_phrase=False) -> Usage:
    """Count a user message sent at `at`. Saves the user; call inside the request's transaction."""
    rules = region_rules(end_user.region)
    tz = ZoneInfo(rules["timezone"])
    gap = timedelta(minutes=rules["break_gap_minutes"])
    previous = end_user.usage_last_at
    continuing = previous is not None and at - previous < gap
    if continuing:
        stretch_before = continuous_use_minutes(end_user, now=previous)
    else:
        end_user.usage_started_at, end_user.usage_breaks_suggested, end_user.usage_ai_notices = at, 0, 0
    if previous is None or at > previous:
        end_user.usage_last_at = at  # a late-arriving older message never moves time back
    usage = Usage(minutes=continuous_use_minutes(end_user, now=end_user.usage_last_at))
    # The day gets the whole minutes this message added to the stretch: they add up to the
    # stretch's length however often the user writes (a message every 20 s still counts).
    added_minutes = max(usage.minutes - stretch_before, 0) if continuing else 0

    every = rules["break_every_minutes"]
    if usage.minutes >= every * (end_user.usage_breaks_suggested + 1):
        usage.break_due, end_user.usage_breaks_suggested = True, usage.minutes // every
    every = rules["ai_identity_every_minutes"]
    if every and usage.minutes >= every * (end_user.usage_ai_notices + 1):
        usage.ai_notice_due, end_user.usage_ai_notices = True, usage.minutes // every

    local = timezone.localtime(at, tz)
    before = timezone.localtime(previous, tz) if previous else None
    # The level asks only whether a day had late-night use: counted once, not for every message of
    # the night (the user's previous message, the same night, was already counted).
    late_night = local.hour in LATE_NIGHT_HOURS and not (
        before and before.date() == local.date() and before.hour in LATE_NIGHT_HOURS)
    counts = {"minutes": added_minutes, "late_night_messages": int(late_night),
              "dependence_messages": int(dependence_phrase)}
    changed = any(counts.values())
    if changed:
        count_day(end_user, local.date(), counts)
    # The level reads only these counts, over a window that moves by whole days: unless this
    # message changed one or is the user's first of a day, it is the stored level. So most
    # messages neither write the day's row nor read the week.
    new_day = before is None or before.date() != local.date()
    if changed or new_day:
        end_user.dependence_level = dependence_level(end_user, local.date())
    usage.dependence_level = end_user.dependence_level
    if usage.dependence_level == "high" and end_user.dependence_reminded_on != local.date():
        usage.dependence_reminder_due, end_user.dependence_reminded_on = True, local.date()
    end_user.save(update_fields=["usage_started_at", "usage_last_at", "usage_breaks_suggested", "usage_ai_notices",
                                 "dependence_level", "dependence_reminded_on"])
    return usage


def count_day(end_user, day, counts):
    """Add the non-zero `counts` to the user's row for `day` (created by the first)."""
    rows = UsageDay.objects.filter(end_user=end_user, day=day)
    # Only the counts that change: each F() expression costs as much to build as the query to run.
    increments = {name: F(name) + value for name, value in counts.items() if value}
    if rows.update(**increments):
        return
    try:
        with transaction.atomic():
            UsageDay.objects.create(end_user=end_user, day=day, **counts)
    except IntegrityError:  # another message of this user created the day first: count on top of it
        rows.update(**increments)


def dependence_level(end_user, today) -> str:
    """none / low / medium / high from the last week: heavy daily use, late nights, dependence phrases."""
    days = list(UsageDay.objects.filter(end_user=end_user, day__gt=today - timedelta(days=DEPENDENCE_WINDOW_DAYS))
                .values_list("minutes", "late_night_messages", "dependence_messages"))
    daily_minutes = sum(d[0] for d in days) / DEPENDENCE_WINDOW_DAYS
    late_nights = sum(1 for d in days if d[1])
    phrases = sum(d[2] for d in days)
    score = (
        (2 if daily_minutes >= 240 else 1 if daily_minutes >= 120 else 0)
        + (2 if late_nights >= 3 else 1 if late_nights >= 2 else 0)
        + (2 if phrases >= 3 else 1 if phrases >= 1 else 0)
    )
    return "high" if score >= 4 else "medium" if score == 3 else "low" if score >= 1 else "none"


def continuous_use_minutes(end_user, now=None) -> int:
    """Minutes in the current stretch, or 0 when the stretch has ended with a long enough gap."""
    if end_user.usage_started_at is None or end_user.usage_last_at is None:
        return 0
    now = now or timezone.now()
    if now - end_user.usage_last_at >= timedelta(minutes=region_rules(end_user.region)["break_gap_minutes"]):
        return 0
    return int((end_user.usage_last_at - end_user.usage_started_at).total_seconds() // 60)
