"""Reports for admins and the security assessment (docs/audit-and-reports.md): anonymous counts only.

    compute(start, end, product_ids)   every report of the period, per UTC day, as plain data
    csv_rows(name, data)               one report as CSV rows (header first)
    referral_rows(year, product_ids)   the annual crisis-referral report (CA SB 243)

Counts come from columns that are kept (incidents, hotline referrals, the users' age group); counts
from rows the retention purge deletes (notifications, timeline events, reminders in the audit
trail) come from DailyStat for days that were rolled up before their purge, live otherwise.
"""
import math
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Min
from django.db.models.functions import TruncDate

from contacts.models import Notification
from conversations.models import HotlineReferral, Product

from .models import AuditEntry, DailyStat, Incident, IncidentEvent, RollupDay

LEVELS = ("distress", "high_risk", "explicit")
OUTCOMES = [choice for choice, _ in Incident.OUTCOME_CHOICES]
AGE_GROUPS = ("minor", "adult", "elder", "unknown")
NOTIFICATION_OUTCOMES = {"delivered": "delivered", "failed": "failed", "timed_out": "fell_through"}
REMINDERS = ("suggest_break", "remind_ai_identity", "dependence_reminder")
# The counts the purge would take away, kept per product and day in DailyStat.
ROLLED_METRICS = ([f"notification.{name}" for name in ("delivered", "failed", "fell_through")]
                  + ["takeover.claimed", "takeover.returned"] + [f"reminder.{name}" for name in REMINDERS])
MAX_DAYS = 400


def day_bounds(start: date, end: date):
    """[start 00:00, end+1 00:00) in UTC: the days of the reports are UTC days."""
    return (datetime.combine(start, time.min, tzinfo=dt_timezone.utc),
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=dt_timezone.utc))


def days_of(start, end) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _filtered(queryset, field, product_ids):
    return queryset.filter(**{f"{field}__in": product_ids}) if product_ids is not None else queryset


# --- counts the purge deletes: live, or from DailyStat ------------------------------------------

def live_rolled_counts(start, end, product_ids=None) -> dict:
    """{(product_id, day, metric): n} of ROLLED_METRICS, counted from the rows themselves."""
    since, until = day_bounds(start, end)
    counts = defaultdict(int)
    rows = _filtered(Notification.objects.filter(kind__in=("sms", "voice"), incident__isnull=False,
                                                 created_at__gte=since, created_at__lt=until)
                     .exclude(error_code="user_erased"),  # stopped by an erasure: no outcome
                     "incident__product_id", product_ids)
    for row in rows.values("incident__product_id", "status").annotate(day=TruncDate("created_at"), n=Count("id")):
        if row["status"] in NOTIFICATION_OUTCOMES:
            counts[(row["incident__product_id"], row["day"],
                    f"notification.{NOTIFICATION_OUTCOMES[row['status']]}")] += row["n"]
    events = _filtered(IncidentEvent.objects.filter(kind__in=("claimed", "returned_to_ai"), at__gte=since,
                                                    at__lt=until), "incident__product_id", product_ids)
    for row in events.values("incident__product_id", "kind").annotate(day=TruncDate("at"), n=Count("id")):
        metric = "takeover.claimed" if row["kind"] == "claimed" else "takeover.returned"
        counts[(row["incident__product_id"], row["day"], metric)] += row["n"]
    reminders = _filtered(AuditEntry.objects.filter(action__in=[f"reminder.{r}" for r in REMINDERS],
                                                    at__gte=since, at__lt=until), "product_id", product_ids)
    for row in reminders.values("product_id", "action").annotate(day=TruncDate("at"), n=Count("id")):
        counts[(row["product_id"], row["day"], row["action"])] += row["n"]
    return counts


def rolled_counts(start, end, product_ids=None) -> dict:
    """{(day, metric): n} summed over the products: DailyStat for rolled-up days, live rows otherwise."""
    rolled = set(RollupDay.objects.filter(day__gte=start, day__lte=end).values_list("day", flat=True))
    totals = defaultdict(int)
    for (_, day, metric), n in live_rolled_counts(start, end, product_ids).items():
        if day not in rolled:
            totals[(day, metric)] += n
    stats = _filtered(DailyStat.objects.filter(day__in=rolled), "product_id", product_ids)
    for day, metric, value in stats.values_list("day", "metric", "value"):
        totals[(day, metric)] += value
    return totals


def rollup(day) -> bool:
    """Keep `day`'s purgeable counts in DailyStat (once; True when this call did it)."""
    try:
        with transaction.atomic():
            RollupDay.objects.create(day=day)
            DailyStat.objects.bulk_create([
                DailyStat(product_id=product_id, day=day, metric=metric, value=n)
                for (product_id, _, metric), n in live_rolled_counts(day, day).items() if product_id and n
            ])
    except IntegrityError:
        return False  # another purge rolled it up first
    return True


def rollup_before(day) -> int:
    """Roll up every day before `day` that still has rows to purge and is not rolled up yet."""
    earliest = [value.date() for value in (
        Notification.objects.aggregate(m=Min("created_at"))["m"],
        IncidentEvent.objects.aggregate(m=Min("at"))["m"],
        AuditEntry.objects.filter(action__startswith="reminder.").aggregate(m=Min("at"))["m"],
    ) if value is not None]
    if not earliest:
        return 0
    done = set(RollupDay.objects.filter(day__lt=day).values_list("day", flat=True))
    return sum(rollup(d) for d in days_of(min(earliest), day - timedelta(days=1)) if d not in done)


# --- the reports --------------------------------------------------------------------------------

def percentile(values, p):
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


def compute(start: date, end: date, product_ids=None) -> dict:
    days = days_of(start, end)
    index = {d: i for i, d in enumerate(days)}
    since, until = day_bounds(start, end)

    def series():
        return [0] * len(days)

    incidents = _filtered(Incident.objects.all(), "product_id", product_ids)
    opened = incidents.filter(opened_at__gte=since, opened_at__lt=until)

    by_level = {level: series() for level in LEVELS}
    for row in opened.values("level").annotate(day=TruncDate("opened_at"), n=Count("id")):
        if row["level"] in by_level:
            by_level[row["level"]][index[row["day"]]] += row["n"]

    targets = settings.ESCALATE_UNCLAIMED_AFTER_SECONDS
    waits = defaultdict(list)  # (level, day) -> seconds from opening to the (last) claim
    for level, opened_at, claimed_at in opened.filter(claimed_at__isnull=False, level__in=("explicit", "high_risk")) \
            .values_list("level", "opened_at", "claimed_at"):
        day = opened_at.astimezone(dt_timezone.utc).date()
        waits[(level, day)].append(max((claimed_at - opened_at).total_seconds(), 0))
    time_to_claim = {}
    for level in ("explicit", "high_risk"):
        time_to_claim[level] = {
            "target_seconds": targets.get(level),
            "claimed": [len(waits[(level, d)]) for d in days],
            "p50": [_round(percentile(waits[(level, d)], 50)) for d in days],
            "p90": [_round(percentile(waits[(level, d)], 90)) for d in days],
            "period_p50": _round(percentile(sum((waits[(level, d)] for d in days), []), 50)),
            "period_p90": _round(percentile(sum((waits[(level, d)] for d in days), []), 90)),
        }

    rolled = rolled_counts(start, end, product_ids)
    notifications = {name: [rolled[(d, f"notification.{name}")] for d in days]
                     for name in ("delivered", "failed", "fell_through")}
    reminders = {name: [rolled[(d, f"reminder.{name}")] for d in days] for name in REMINDERS}

    resolved = {outcome: series() for outcome in OUTCOMES}
    for row in incidents.filter(resolved_at__gte=since, resolved_at__lt=until).values("outcome") \
            .annotate(day=TruncDate("resolved_at"), n=Count("id")):
        if row["outcome"] in resolved:
            resolved[row["outcome"]][index[row["day"]]] += row["n"]
    takeovers = {"claimed": [rolled[(d, "takeover.claimed")] for d in days],
                 "returned": [rolled[(d, "takeover.returned")] for d in days], "resolved": resolved}

    referrals = {level: series() for level in LEVELS}
    referral_rows = _filtered(HotlineReferral.objects.filter(created_at__gte=since, created_at__lt=until),
                              "product_id", product_ids)
    for row in referral_rows.values("level").annotate(day=TruncDate("created_at"), n=Count("id")):
        if row["level"] in referrals:
            referrals[row["level"]][index[row["day"]]] += row["n"]
    referrals["total"] = [sum(referrals[level][i] for level in LEVELS) for i in range(len(days))]

    ages = dict.fromkeys(AGE_GROUPS, 0)
    for row in opened.values("conversation__end_user__age_group").annotate(
            n=Count("conversation__end_user", distinct=True)):
        ages[row["conversation__end_user__age_group"] or "unknown"] += row["n"]

    return {
        "period": {"from": start.isoformat(), "to": end.isoformat(), "products": product_ids},
        "days": [d.isoformat() for d in days],
        "incidents_by_level": by_level,
        "time_to_claim": time_to_claim,
        "notifications": notifications,
        "takeovers": takeovers,
        "referrals": referrals,
        "age_structure": ages,
        "reminders": reminders,
    }


def _round(value):
    return None if value is None else round(value, 1)


# --- CSV ----------------------------------------------------------------------------------------

def _scope(product_ids):
    if product_ids is None:
        return "all"
    return "+".join(Product.objects.filter(pk__in=product_ids).order_by("name").values_list("name", flat=True))


def csv_rows(name, data, product_ids=None):
    """One report as rows (header first). Counts and durations only: no user, phone or text."""
    days, scope = data["days"], _scope(product_ids)
    if name == "incidents":
        header = ["day", "products", *LEVELS, "total"]
        rows = [[d, scope, *(data["incidents_by_level"][lv][i] for lv in LEVELS),
                 sum(data["incidents_by_level"][lv][i] for lv in LEVELS)] for i, d in enumerate(days)]
    elif name == "time-to-claim":
        ttc = data["time_to_claim"]
        header = ["day", "products"]
        for level in ("explicit", "high_risk"):
            header += [f"{level}_claimed", f"{level}_p50_seconds", f"{level}_p90_seconds", f"{level}_target_seconds"]
        rows = []
        for i, d in enumerate(days):
            row = [d, scope]
            for level in ("explicit", "high_risk"):
                row += [ttc[level]["claimed"][i], _blank(ttc[level]["p50"][i]), _blank(ttc[level]["p90"][i]),
                        ttc[level]["target_seconds"]]
            rows.append(row)
    elif name == "notifications":
        header = ["day", "products", "delivered", "failed", "fell_through"]
        rows = [[d, scope, *(data["notifications"][k][i] for k in header[2:])] for i, d in enumerate(days)]
    elif name == "takeovers":
        header = ["day", "products", "claimed", "returned", *(f"resolved_{o}" for o in OUTCOMES)]
        t = data["takeovers"]
        rows = [[d, scope, t["claimed"][i], t["returned"][i], *(t["resolved"][o][i] for o in OUTCOMES)]
                for i, d in enumerate(days)]
    elif name == "referrals":
        header = ["day", "products", *LEVELS, "total"]
        rows = [[d, scope, *(data["referrals"][k][i] for k in (*LEVELS, "total"))] for i, d in enumerate(days)]
    elif name == "age-structure":
        header = ["from", "to", "products", "age_group", "users_with_incidents"]
        rows = [[data["period"]["from"], data["period"]["to"], scope, group, n]
                for group, n in data["age_structure"].items()]
    elif name == "reminders":
        header = ["day", "products", *REMINDERS]
        rows = [[d, scope, *(data["reminders"][k][i] for k in REMINDERS)] for i, d in enumerate(days)]
    else:
        raise KeyError(name)
    return [header, *rows]


CSV_REPORTS = ("incidents", "time-to-claim", "notifications", "takeovers", "referrals", "age-structure", "reminders")


def _blank(value):
    return "" if value is None else value


def referral_rows(year: int, product_ids=None):
    """CA SB 243's annual count: crisis-service referrals (template replies that carried a hotline)
    per product and month of the calendar year, and the year's total. No personal data."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    since, until = day_bounds(start, end)
    products = Product.objects.order_by("name")
    if product_ids is not None:
        products = products.filter(pk__in=product_ids)
    counts = defaultdict(int)
    rows = HotlineReferral.objects.filter(created_at__gte=since, created_at__lt=until, product__in=products)
    for product_id, level, created_at in rows.values_list("product_id", "level", "created_at").iterator():
        counts[(product_id, created_at.astimezone(dt_timezone.utc).month, level)] += 1
    out = [["year", "product", "month", *LEVELS, "referrals"]]
    for product in products:
        year_levels = dict.fromkeys(LEVELS, 0)
        for month in range(1, 13):
            levels = [counts[(product.pk, month, level)] for level in LEVELS]
            for level, n in zip(LEVELS, levels):
                year_levels[level] += n
            out.append([year, product.name, f"{year}-{month:02d}", *levels, sum(levels)])
        out.append([year, product.name, "total", *year_levels.values(), sum(year_levels.values())])
    return out
