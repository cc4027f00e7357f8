"""Continuous use (Measures Art. 18): remind the user to pause every 2 hours of continuous use.

A stretch of use is a run of user messages with no gap of `break_gap_minutes` or more; a reminder
is due each time the stretch reaches another `break_every_minutes`. Both are per region.
"""
from datetime import timedelta

from django.utils import timezone

from escalation.regions import region_rules


def record_activity(end_user, at) -> tuple[int, bool]:
    """Count a user message at `at` towards the current stretch.

    Returns (continuous_use_minutes, break_due). Saves the user; call inside the request's transaction.
    """
    rules = region_rules(end_user.region)
    gap = timedelta(minutes=rules["break_gap_minutes"])
    if end_user.usage_last_at is None or at - end_user.usage_last_at >= gap:
        end_user.usage_started_at, end_user.usage_breaks_suggested = at, 0
    if end_user.usage_last_at is None or at > end_user.usage_last_at:
        end_user.usage_last_at = at  # a late-arriving older message never moves time back
    minutes = continuous_use_minutes(end_user, now=end_user.usage_last_at)
    break_due = minutes >= rules["break_every_minutes"] * (end_user.usage_breaks_suggested + 1)
    if break_due:
        end_user.usage_breaks_suggested = minutes // rules["break_every_minutes"]
    end_user.save(update_fields=["usage_started_at", "usage_last_at", "usage_breaks_suggested"])
    return minutes, break_due


def continuous_use_minutes(end_user, now=None) -> int:
    """Minutes in the current stretch, or 0 when the stretch has ended with a long enough gap."""
    if end_user.usage_started_at is None or end_user.usage_last_at is None:
        return 0
    now = now or timezone.now()
    if now - end_user.usage_last_at >= timedelta(minutes=region_rules(end_user.region)["break_gap_minutes"]):
        return 0
    return int((end_user.usage_last_at - end_user.usage_started_at).total_seconds() // 60)
