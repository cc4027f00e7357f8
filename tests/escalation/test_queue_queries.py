"""The console's queue snapshot: a fixed number of queries however many incidents, and bounded."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escalation import live

from .helpers import flagged, operator_of, supervisor


def snapshot_queries(user):
    with CaptureQueriesContext(connection) as context:
        frame = live.snapshot(user)
    return len(context), frame


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["supervisor", "operator"])
def test_the_snapshot_takes_as_many_queries_for_many_incidents_as_for_few(api, product, who):
    user = supervisor() if who == "supervisor" else operator_of(product)
    for i in range(2):
        flagged(api, conversation=f"c-{i}", user=f"u-{i}", message_id=f"m-{i}")
    few, frame = snapshot_queries(user)
    assert len(frame["incidents"]) == 2
    for i in range(2, 12):
        flagged(api, conversation=f"c-{i}", user=f"u-{i}", message_id=f"m-{i}")
    many, frame = snapshot_queries(user)
    assert len(frame["incidents"]) == 12
    assert many == few  # no query per incident (N+1)


@pytest.mark.django_db
def test_the_snapshot_is_bounded_and_says_how_many_there_are(api, monkeypatch):
    monkeypatch.setattr(live, "SNAPSHOT_LIMIT", 5)
    for i in range(7):
        flagged(api, conversation=f"c-{i}", user=f"u-{i}", message_id=f"m-{i}")
    frame = live.snapshot(supervisor())
    assert len(frame["incidents"]) == 5 and frame["total"] == 7
