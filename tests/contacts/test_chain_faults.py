"""Faults in the middle of a chain, with real processes: a worker killed with SIGKILL, Redis stopped.

In both, every due SMS still reaches Twilio, and exactly one of each is accepted.
"""
import os
import signal
import subprocess
import sys

import pytest
from django.conf import settings

from contacts import chain
from contacts.models import Notification
from escalation import takeover
from tests.escalation.helpers import operator_of
from tests.support.fixtures import point_broker_at, running_worker, wait_until
from tests.support.processes import database_url
from tests.support.servers import start_redis

from .conftest import AUTH_TOKEN, MOTHER

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
LEASE_SECONDS = 2


def worker_process(broker_url, twilio):
    """A Celery worker as `make run` starts one, in its own process, on the test database."""
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": broker_url,
           "TWILIO_ACCOUNT_SID": settings.TWILIO_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "TWILIO_FROM_NUMBER": settings.TWILIO_FROM_NUMBER, "TWILIO_API_URL": twilio.url,
           "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL, "NOTIFICATION_LEASE_SECONDS": str(LEASE_SECONDS)}
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "escalation", "worker", "--pool", "solo",
                             "--without-mingle", "--without-gossip", "-l", "warning"],
                            env=env, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_worker_killed_while_twilio_is_answering_loses_no_sms(twilio, incident, product, redis_settings):
    twilio.behave(MOTHER, "hang")  # the worker will be stuck in the request when it is killed
    worker = worker_process(redis_settings.url, twilio)
    try:
        takeover.notify_contacts(operator_of(product), incident.pk)
        twilio.wait_for(lambda r: len(r) == 1, timeout=30)  # the worker is inside the Twilio call now
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert Notification.objects.get(incident=incident).status == "sending"  # what a dead worker leaves
    twilio.behave(MOTHER, "accept")
    # Once the dead worker's lease runs out, the sweep hands the step to a new worker.
    assert wait_until(lambda: chain.sweep()["queued"] == 1, timeout=LEASE_SECONDS + 5)
    with running_worker():
        twilio.wait_for(lambda r: len(r) == 2)
        assert wait_until(lambda: Notification.objects.get(incident=incident).status == "sent")
    assert [r.to for r in twilio.accepted()] == [MOTHER], "sent once"


def test_redis_stopped_for_a_while_delays_the_chain_and_loses_nothing(twilio, incident, product, settings):
    redis = start_redis()
    port = redis.port
    point_broker_at(redis.url)
    settings.CELERY_BROKER_URL = redis.url
    redis.stop()  # Redis goes down
    try:
        takeover.notify_contacts(operator_of(product), incident.pk)  # the operator is not blocked
        assert chain.sweep()["queued"] == 0
        assert Notification.objects.get(incident=incident).status == "pending"
        redis = start_redis(port=port)  # ...and comes back
        assert chain.sweep()["queued"] == 1
        with running_worker():
            twilio.wait_for(lambda r: len(r) == 1)
            assert wait_until(lambda: Notification.objects.get(incident=incident).status == "sent")
        assert [r.to for r in twilio.accepted()] == [MOTHER]
    finally:
        redis.stop()
