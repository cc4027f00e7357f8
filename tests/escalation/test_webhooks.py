"""Outbound webhooks against real parts: a local HTTP receiver, the test Redis and a Celery worker.

Nothing here sleeps for a fixed time: the receiver signals each request it records, and waits
for the database are bounded polls.
"""
import json
import queue
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from django.db import connections, transaction
from django.utils import timezone

from conversations.models import Product
from escalation import webhooks
from escalation.models import WebhookAttempt, WebhookEvent
from tests.support.fixtures import point_broker_at, running_worker, wait_until
from tests.support.servers import free_port

WAIT = 20  # seconds: the bound of every wait below
DATA = {"conversation": "conv-1", "incident": "3f1c0c9e-0000-4000-8000-000000000001", "outcome": "safe"}


class Receiver:
    """A product's webhook endpoint: records every request; answers `status`, or holds (hangs)
    each request until `hold` is set again."""

    def __init__(self):
        self.requests = []  # (headers, body) in arrival order
        self.status = 200
        self.answer = b"ok"
        self.hold = threading.Event()
        self.hold.set()
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._arrived:
                    receiver.requests.append((dict(self.headers), body))
                    receiver._arrived.notify_all()
                receiver.hold.wait(WAIT)
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(receiver.answer)))
                self.end_headers()
                self.wfile.write(receiver.answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count, timeout=WAIT):
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def stop(self):
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def hooked(transactional_db, receiver):
    """A product whose webhook URL is the receiver (transactional: worker threads see its rows)."""
    return Product.objects.create(name="hooked", webhook_url=receiver.url)


def status_of(event):
    return WebhookEvent.objects.values_list("status", flat=True).get(pk=event.pk)


def make_due(event):
    """What the passing of the backoff interval would do, without waiting for it."""
    WebhookEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())


def queue_length(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    try:
        return client.llen("celery")
    finally:
        client.close()


@pytest.fixture
def broker(redis_settings):
    """The test Redis as the broker, with fresh connection pools."""
    yield redis_settings


# --- signatures -------------------------------------------------------------------------------

def test_sign_and_verify():
    body = b'{"id":"evt_1"}'
    now = time.time()
    header = webhooks.sign("s3cret", now, body)
    t, v1 = header.split(",")
    assert t == f"t={int(now)}" and v1.startswith("v1=") and len(v1) == 3 + 64
    assert webhooks.verify("s3cret", header, body)
    assert not webhooks.verify("other", header, body)
    assert not webhooks.verify("s3cret", header, body + b" ")
    assert not webhooks.verify("s3cret", webhooks.sign("s3cret", now - 301, body), body)  # replayed
    assert webhooks.verify("s3cret", webhooks.sign("s3cret", now - 301, body), body, tolerance=600)
    for bad in ("", "t=1", "v1=ab", "garbage", f"t=x,{v1}"):
        assert not webhooks.verify("s3cret", bad, body)
    # A rotated secret: either v1 may match.
    assert webhooks.verify("s3cret", f"t={int(now)},v1={'0' * 64},{v1}", body)


def test_backoff_doubles_from_ten_seconds_with_jitter_capped_at_an_hour():
    for attempts, full in ((1, 10), (2, 20), (3, 40), (10, 3600), (40, 3600)):
        delay = webhooks.backoff(attempts).total_seconds()
        assert full / 2 <= delay <= full


# --- the outbox -------------------------------------------------------------------------------

def test_enqueue_writes_the_event_and_queues_it_on_commit(db, django_capture_on_commit_callbacks):
    product = Product.objects.create(name="p", webhook_url="https://p.example/hooks")
    with django_capture_on_commit_callbacks() as callbacks:
        event = webhooks.enqueue(product, "incident.resolved", DATA)
    assert len(callbacks) == 1
    body = json.loads(event.body)
    assert set(body) == {"id", "type", "created", "data"}
    assert body["id"] == event.id and event.id.startswith("evt_")
    assert body["type"] == "incident.resolved"
    assert body["data"] == DATA
    assert datetime.fromisoformat(body["created"].replace("Z", "+00:00")) - event.created_at < timedelta(seconds=1)
    stored = WebhookEvent.objects.get(pk=event.pk)
    assert (stored.status, stored.attempts, stored.body) == ("pending", 0, event.body)


def test_no_webhook_url_no_event(db, django_capture_on_commit_callbacks):
    product = Product.objects.create(name="polls")
    with django_capture_on_commit_callbacks() as callbacks:
        assert webhooks.enqueue(product, "incident.resolved", DATA) is None
    assert callbacks == [] and not WebhookEvent.objects.exists()


def test_unknown_event_type_is_refused(db):
    product = Product.objects.create(name="p", webhook_url="https://p.example/hooks")
    with pytest.raises(ValueError):
        webhooks.enqueue(product, "incident.opened", DATA)


def test_rolled_back_enqueue_sends_nothing(transactional_db, broker):
    product = Product.objects.create(name="p", webhook_url="https://p.example/hooks")
    with pytest.raises(RuntimeError), transaction.atomic():
        webhooks.enqueue(product, "incident.resolved", DATA)
        raise RuntimeError("the caller fails after enqueueing")
    assert not WebhookEvent.objects.exists()
    assert queue_length(broker) == 0
    # The same enqueue committed does reach the broker: the check above could have failed.
    with transaction.atomic():
        webhooks.enqueue(product, "incident.resolved", DATA)
    assert queue_length(broker) == 1


# --- one attempt ------------------------------------------------------------------------------

def test_delivery_is_signed_with_the_products_secret(hooked, receiver):
    event = webhooks.enqueue(hooked, "incident.resolved", DATA)
    assert webhooks.deliver(event.id) == "delivered"
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert body == event.body.encode()
    assert headers["Content-Type"] == "application/json"
    assert webhooks.verify(hooked.webhook_secret, headers["X-Signature"], body)
    assert not webhooks.verify("another-products-secret", headers["X-Signature"], body)
    event.refresh_from_db()
    assert (event.status, event.attempts, event.locked_until) == ("delivered", 1, None)
    assert event.delivered_at is not None
    (attempt,) = WebhookAttempt.objects.filter(event=event)
    assert (attempt.status_code, attempt.error, attempt.response_excerpt) == (200, "", "ok")
    assert webhooks.deliver(event.id) is None  # delivered: nothing more to do
    assert len(receiver.requests) == 1


def test_a_500_is_retried_later_with_the_same_id_and_body(hooked, receiver):
    receiver.status, receiver.answer = 500, b"x" * 10_000
    event = webhooks.enqueue(hooked, "conversation.returned_to_ai", {"conversation": "c", "incident": "i", "note": ""})
    before = timezone.now()
    assert webhooks.deliver(event.id) == "pending"
    event.refresh_from_db()
    assert event.attempts == 1 and event.locked_until is None
    assert before + timedelta(seconds=5) <= event.next_attempt_at <= timezone.now() + timedelta(seconds=10)
    (attempt,) = WebhookAttempt.objects.filter(event=event)
    assert attempt.status_code == 500 and attempt.response_excerpt == "x" * 500  # never the whole answer

    assert webhooks.deliver(event.id) is None  # not due yet: no request
    assert len(receiver.requests) == 1

    receiver.status, receiver.answer = 200, b""
    make_due(event)
    assert webhooks.deliver(event.id) == "delivered"
    first, second = receiver.requests
    assert first[1] == second[1] == event.body.encode()
    assert json.loads(second[1])["id"] == event.id
    assert webhooks.verify(hooked.webhook_secret, second[0]["X-Signature"], second[1])
    assert [a.status_code for a in WebhookAttempt.objects.filter(event=event)] == [500, 200]
    assert WebhookEvent.objects.get(pk=event.pk).attempts == 2


def test_an_unreachable_or_hanging_receiver_is_a_failed_attempt(hooked, receiver, monkeypatch):
    event = webhooks.enqueue(hooked, "incident.resolved", DATA)
    Product.objects.filter(pk=hooked.pk).update(webhook_url=f"http://127.0.0.1:{free_port()}/closed")
    assert webhooks.deliver(event.id) == "pending"

    Product.objects.filter(pk=hooked.pk).update(webhook_url=receiver.url)
    make_due(event)
    receiver.hold.clear()  # hang
    monkeypatch.setattr(webhooks, "TIMEOUT", (2, 0.3))  # the read timeout, shortened to keep the test fast
    assert webhooks.deliver(event.id) == "pending"
    receiver.hold.set()
    assert [(a.status_code, a.error) for a in WebhookAttempt.objects.filter(event=event)] == [
        (None, "ConnectionError"),
        (None, "ReadTimeout"),
    ]


def test_gives_up_after_24_hours(hooked, receiver):
    receiver.status = 503
    event = webhooks.enqueue(hooked, "incident.resolved", DATA)
    # Almost 24 hours old: one more try is scheduled, no later than the 24-hour mark.
    WebhookEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(hours=24, seconds=-3))
    assert webhooks.deliver(event.id) == "pending"
    event.refresh_from_db()
    assert event.next_attempt_at <= event.created_at + timedelta(hours=24)
    # Past it: this attempt is the last.
    WebhookEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(hours=25))
    make_due(event)
    assert webhooks.deliver(event.id) == "failed"
    make_due(event)
    assert webhooks.deliver(event.id) is None
    assert len(receiver.requests) == 2
    assert WebhookAttempt.objects.filter(event=event).count() == 2


def test_a_leased_event_is_left_alone_until_the_lease_runs_out(hooked, receiver):
    event = webhooks.enqueue(hooked, "incident.resolved", DATA)
    WebhookEvent.objects.filter(pk=event.pk).update(locked_until=timezone.now() + timedelta(seconds=30))
    assert webhooks.deliver(event.id) is None
    assert webhooks.sweep() == 0
    WebhookEvent.objects.filter(pk=event.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert webhooks.deliver(event.id) == "delivered"
    assert len(receiver.requests) == 1


def test_two_concurrent_deliveries_make_one_request(hooked, receiver):
    event = webhooks.enqueue(hooked, "incident.resolved", DATA)
    receiver.hold.clear()  # the winner's POST waits here until the loser has given up
    barrier = threading.Barrier(2)
    results = queue.Queue()

    def attempt():
        try:
            barrier.wait(WAIT)
            results.put(webhooks.deliver(event.id))
        except Exception as exc:  # noqa: BLE001  (reported to the test below)
            results.put(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    assert results.get(timeout=WAIT) is None  # the loser, while the winner's request is held
    assert receiver.wait_for(1)
    receiver.hold.set()
    assert results.get(timeout=WAIT) == "delivered"
    for thread in threads:
        thread.join(WAIT)
    assert len(receiver.requests) == 1
    assert WebhookAttempt.objects.filter(event=event).count() == 1
    assert WebhookEvent.objects.get(pk=event.pk).attempts == 1


# --- the broker, the sweep and a real worker --------------------------------------------------

def test_a_worker_delivers_the_event_once_committed(hooked, receiver, worker):
    with transaction.atomic():
        event = webhooks.enqueue(hooked, "conversation.human_takeover",
                                 {"conversation": "c", "incident": "i", "operator": "Dana"})
        assert event is not None
    assert receiver.wait_for(1)
    assert wait_until(lambda: status_of(event) == "delivered")
    headers, body = receiver.requests[0]
    assert json.loads(body)["data"]["operator"] == "Dana"
    assert webhooks.verify(hooked.webhook_secret, headers["X-Signature"], body)


def test_the_sweep_retries_through_the_worker_until_the_receiver_recovers(hooked, receiver, worker):
    receiver.status = 500
    with transaction.atomic():
        event = webhooks.enqueue(hooked, "incident.resolved", DATA)
    assert receiver.wait_for(1)
    assert wait_until(lambda: WebhookAttempt.objects.filter(event=event).exists())
    assert webhooks.sweep() == 0  # not due yet
    receiver.status = 200
    make_due(event)
    assert webhooks.sweep() == 1
    assert receiver.wait_for(2)
    assert wait_until(lambda: status_of(event) == "delivered")
    assert receiver.requests[0][1] == receiver.requests[1][1] == event.body.encode()
    assert [a.status_code for a in WebhookAttempt.objects.filter(event=event)] == [500, 200]


def test_the_sweep_queues_an_event_whose_dispatch_was_lost(hooked, receiver, broker):
    point_broker_at(f"redis://127.0.0.1:{free_port()}/0")  # Redis down at commit time
    started = time.monotonic()
    with transaction.atomic():
        event = webhooks.enqueue(hooked, "user.registration_restricted", {"user": "u-1"})
    assert time.monotonic() - started < 2  # the dispatch fails fast, not after kombu's reconnect loop
    assert WebhookEvent.objects.get(pk=event.pk).queued_at is None
    assert webhooks.sweep() == 0  # the broker is still down: nothing queued, nothing lost

    point_broker_at(broker.url)  # Redis is back
    assert queue_length(broker) == 0
    assert webhooks.sweep() == 1
    assert queue_length(broker) == 1
    assert webhooks.sweep() == 0  # in the queue already: not queued again every sweep

    with running_worker():
        assert receiver.wait_for(1)
        assert wait_until(lambda: status_of(event) == "delivered")
    assert json.loads(receiver.requests[0][1])["id"] == event.id


def test_a_crashed_attempt_is_left_pending_for_the_sweep(hooked, receiver, broker, monkeypatch):
    from escalation.tasks import deliver_webhook

    event = webhooks.enqueue(hooked, "incident.resolved", DATA)

    def crash(event):
        raise RuntimeError("a bug between the claim and the POST")

    monkeypatch.setattr(webhooks, "_post", crash)  # fault injection: nothing real fails this way
    deliver_webhook.apply(args=(event.id,))  # the task itself, run here: it must not raise
    event.refresh_from_db()
    assert event.status == "pending" and event.locked_until > timezone.now()
    assert webhooks.sweep() == 0  # the lease still holds
    WebhookEvent.objects.filter(pk=event.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert webhooks.sweep() == 1


def test_the_admin_shows_events_and_their_attempts_read_only(hooked, receiver, admin_client):
    receiver.status, receiver.answer = 502, b"bad gateway from the product"
    event = webhooks.enqueue(hooked, "incident.resolved", DATA)
    webhooks.deliver(event.id)
    listing = admin_client.get("/admin/escalation/webhookevent/")
    assert listing.status_code == 200 and event.id in listing.content.decode()
    page = admin_client.get(f"/admin/escalation/webhookevent/{event.id}/change/").content.decode()
    assert "502" in page and "bad gateway from the product" in page
    assert admin_client.get("/admin/escalation/webhookevent/add/").status_code == 403
