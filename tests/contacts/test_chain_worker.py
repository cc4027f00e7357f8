"""The chain through a real Celery worker and the test Redis: nothing due is lost, nothing sent twice."""
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from contacts import chain
from contacts.models import Notification
from escalation import takeover
from tests.escalation.helpers import operator_of
from tests.support.fixtures import point_broker_at, running_worker, wait_until
from tests.support.servers import free_port

from .conftest import MOTHER

pytestmark = pytest.mark.django_db(transaction=True)


def status_of(incident_):
    return list(Notification.objects.filter(incident=incident_).order_by("step").values_list("to_phone", "status"))


def test_an_operator_started_chain_reaches_twilio_through_the_worker(twilio, incident, product, worker):
    takeover.notify_contacts(operator_of(product), incident.pk)
    [request] = twilio.wait_for(lambda r: len(r) == 1)
    assert request.to == MOTHER
    assert wait_until(lambda: status_of(incident) == [(MOTHER, "sent")])


def test_redis_down_at_the_start_delays_the_sms_but_loses_nothing(twilio, incident, product,
                                                                 redis_settings):
    point_broker_at(f"redis://127.0.0.1:{free_port()}/0")  # Redis is down when the operator clicks
    takeover.notify_contacts(operator_of(product), incident.pk)
    [notification] = Notification.objects.filter(incident=incident)
    assert notification.status == "pending" and notification.queued_at is None, "the row waits for the sweep"
    assert chain.sweep()["queued"] == 0  # still down: nothing queued, nothing lost

    point_broker_at(redis_settings.url)  # Redis is back
    assert chain.sweep()["queued"] == 1
    assert chain.sweep()["queued"] == 0, "waiting in the queue: not queued twice"
    with running_worker():
        twilio.wait_for(lambda r: len(r) == 1)
        assert wait_until(lambda: status_of(incident) == [(MOTHER, "sent")])
    assert len(twilio.requests) == 1


def test_a_worker_killed_before_sending_leaves_the_step_to_the_sweep(twilio, incident, product,
                                                                     redis_settings):
    with transaction.atomic():
        takeover.notify_contacts(operator_of(product), incident.pk)
    # What a worker killed after claiming the step (and before Twilio answered) leaves behind;
    # its Redis message is gone (acked late, but the visibility timeout is an hour).
    Notification.objects.filter(incident=incident).update(
        status="sending", locked_until=timezone.now() - timedelta(seconds=1), queued_at=None, attempts=1)
    assert chain.sweep()["queued"] == 1
    with running_worker():
        twilio.wait_for(lambda r: len(r) == 1)
        assert wait_until(lambda: status_of(incident) == [(MOTHER, "sent")])
    assert len(twilio.requests) == 1
    assert Notification.objects.get(incident=incident).attempts == 2
