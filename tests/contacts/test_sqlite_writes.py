"""Writes that follow a read on the embedded database (SQLite, WAL): none may fail because another
connection committed in between (issue 12, item 4).

On SQLite a connection that still holds a read snapshot (a statement not yet finished, e.g. a
`.iterator()` being walked) cannot become the writer once anyone else has committed: SQLite answers
SQLITE_BUSY_SNAPSHOT at once, whatever the busy timeout, and Django raises "database is locked"."""
import threading
from datetime import date

import pytest
from django.db import connections

from contacts import registration
from contacts.models import EndUser, Notification
from conversations.models import Product
from tests.support.fixtures import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def commit_from_another_connection():
    """Another process's write (a web request, a worker), committed now."""
    def write():
        try:
            Product.objects.create(name="elsewhere")
        finally:
            connections.close_all()

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()


def test_regrouping_thousands_of_users_survives_a_write_elsewhere(monkeypatch):
    today = date.today()
    product = Product.objects.create(name="p")
    turned_eighteen = today.replace(year=today.year - 18, day=min(today.day, 28))
    thirty = today.replace(year=today.year - 30, day=min(today.day, 28))
    # More users than one chunk of a Django iterator (2000): the read is still open when the
    # first regrouped user is written.
    EndUser.objects.bulk_create(
        [EndUser(product=product, external_id="birthday", birth_date=turned_eighteen, age_group="minor")]
        + [EndUser(product=product, external_id=f"u{i}", birth_date=thirty, age_group="adult") for i in range(2100)])
    derive = registration.derive_age_group
    calls = []

    def derive_while_others_write(*args):
        if not calls:
            commit_from_another_connection()  # between the read and the first write
        calls.append(args)
        return derive(*args)

    monkeypatch.setattr(registration, "derive_age_group", derive_while_others_write)
    assert registration.enforce_deadlines()["regrouped"] == 1
    assert EndUser.objects.get(external_id="birthday").age_group == "adult"
    assert len(calls) == 2101


def test_a_crisis_right_after_a_registration_is_stored_while_the_worker_texts(api, worker):
    """The worker sends each registration's verification text while the next request writes."""
    for n in range(8):
        user = f"elder-{n}"
        registered = api.put(f"/api/v1/users/{user}", {"birth_date": "1940-03-01", "region": "CN", "contacts": [
            {"name": "Li", "relationship": "son", "kind": "emergency", "phone": f"+86138001380{n:02d}"}]},
            format="json")
        assert registered.status_code == 200, registered.json()
        crisis = api.post(f"/api/v1/conversations/c-{user}/messages", {
            "id": "m-1", "user": user, "role": "user", "text": "I want to kill myself tonight, I have the pills"},
            format="json")
        assert crisis.status_code == 201, crisis.json()
        assert crisis.json()["assessment"]["level"] == "explicit"
        minor = api.put(f"/api/v1/users/minor-{n}", {"birth_date": "2012-03-01", "region": "CN", "contacts": [
            {"name": "Li", "relationship": "mother", "kind": "guardian", "phone": f"+86139001390{n:02d}"}]},
            format="json")
        assert minor.status_code == 200, minor.json()
        plain = api.put(f"/api/v1/users/plain-{n}", {"age_group": "adult"}, format="json")
        assert plain.status_code == 200, plain.json()
    assert wait_until(lambda: Notification.objects.filter(kind="verify", status="delivered").count() == 16)


def close_quietly(cursor):
    """The retry closed the connection, and the cursor with it; otherwise close it now."""
    import sqlite3

    try:
        cursor.close()
    except sqlite3.ProgrammingError:
        pass


def hold_an_old_snapshot():
    """This connection (the one the test client's requests use: same thread) leaves a read
    half-done, then another connection commits: the snapshot this connection holds is now old."""
    from django.db import connection

    connection.ensure_connection()
    cursor = connection.connection.cursor()  # the driver's own cursor: Django's would be closed for us
    cursor.execute("SELECT id FROM django_content_type")  # a table with many rows
    cursor.fetchone()  # one row of two: the statement stays open, and with it the read snapshot
    commit_from_another_connection()
    return cursor


class TestWritesAfterAnOldSnapshot:
    """Issue 12, item 4: crisis messages were answered 503 within 10 ms on SQLite, "database is
    locked" with no busy wait. That is what SQLite answers a connection holding an old snapshot;
    the API's writes run again on a fresh connection instead (escalation.database)."""

    @pytest.fixture(autouse=True)
    def _sqlite_only(self):
        from django.db import connection

        if connection.vendor != "sqlite":
            pytest.skip("PostgreSQL locks rows, not the file: no snapshot refuses a writer there")

    def test_a_crisis_message_is_stored(self, api):
        held = hold_an_old_snapshot()
        response = api.post("/api/v1/conversations/c-1/messages",
                            {"id": "m-1", "user": "u-1", "role": "user", "text": "I am going to kill myself tonight"},
                            format="json")
        assert response.status_code == 201, response.content
        assert response.json()["assessment"]["level"] == "explicit"
        close_quietly(held)

    def test_a_registration_is_stored(self, api):
        held = hold_an_old_snapshot()
        response = api.put("/api/v1/users/u-2", {"birth_date": "1950-01-01", "region": "CN", "contacts": [
            {"name": "A", "relationship": "son", "kind": "emergency", "phone": "+8613800138000", "priority": 1}]},
            format="json")
        assert response.status_code == 200, response.content
        assert EndUser.objects.get(external_id="u-2").age_group == "elder"
        close_quietly(held)

    def test_a_flag_is_stored(self, api):
        held = hold_an_old_snapshot()
        response = api.post("/api/v1/flags", {"conversation": "c-3", "user": "u-3", "level": "explicit"}, format="json")
        assert response.status_code == 201, response.content
        close_quietly(held)
