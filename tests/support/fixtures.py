"""pytest plugin: a private Redis for the test session, and settings that point at it.

Registered by tests/conftest.py with `pytest_plugins = ["tests.support.fixtures"]`.

    def test_something(redis_server): ...      # the RedisServer (.url, .host, .port), session-wide
    def test_pubsub(redis_settings): ...       # same, and REDIS_URL, CELERY_BROKER_URL and the
                                               # channel layers point at it for this test only

Redis starts on first use only: a run that needs no Redis starts none.
"""
from __future__ import annotations

import copy
import time
from contextlib import contextmanager

import pytest

from .servers import start_redis

WAIT = 10


@pytest.fixture(scope="session")
def redis_server():
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


def _channel_layers_for(url, current):
    layers = copy.deepcopy(current or {})
    if not layers:
        layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {}}}
    for layer in layers.values():
        if "redis" in layer.get("BACKEND", "").lower():
            layer.setdefault("CONFIG", {})["hosts"] = [url]
    return layers


def _reset_celery_connections(app):
    # Celery caches its broker connections: drop them so the next send uses the new broker_url.
    pool = getattr(app, "_pool", None)
    if pool is not None:
        try:
            pool.force_close_all()
        except Exception:
            pass
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    # kombu keeps its pools in a global registry keyed by host and port: a force-closed pool
    # stays there, and the next test against the same Redis would get it back ("closed pool").
    import kombu.pools

    kombu.pools.reset()


@pytest.fixture
def redis_settings(redis_server, settings):
    """Point REDIS_URL, CELERY_BROKER_URL and CHANNEL_LAYERS at the session's Redis for one test.

    pytest-django's `settings` restores them afterwards (and channels drops its cached layers on
    both changes); the Celery app's broker_url is set and restored here too.
    """
    url = redis_server.url
    try:
        from escalation.celery import app as celery_app
    except ImportError:
        celery_app = None
    previous = None
    if celery_app is not None:
        previous = celery_app.conf.broker_url  # read (and so loaded) before the settings change

    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url
    settings.CHANNEL_LAYERS = _channel_layers_for(url, getattr(settings, "CHANNEL_LAYERS", None))
    if celery_app is not None:
        celery_app.conf.broker_url = url
        _reset_celery_connections(celery_app)
    try:
        yield redis_server
    finally:
        if celery_app is not None:
            celery_app.conf.broker_url = previous
            _reset_celery_connections(celery_app)
        # Flush between tests so one test's keys and channel messages never reach another.
        try:
            import redis

            client = redis.Redis.from_url(url)
            client.flushall()
            client.close()
        except Exception:
            pass


def point_broker_at(url):
    """Aim the Celery app at another broker (a closed port plays "Redis is down")."""
    from escalation.celery import app as celery_app

    celery_app.conf.broker_url = url
    _reset_celery_connections(celery_app)


@contextmanager
def running_worker():
    """A real Celery worker of the project's app, in a thread, consuming from the current broker:
    the default queue and the second stage's (settings.CELERY_TASK_ROUTES)."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun
    from django.conf import settings
    from django.db import connections

    from escalation.celery import app as celery_app

    def close_connections(**kwargs):
        connections.close_all()  # the worker thread's own: PostgreSQL cannot drop a database in use

    task_postrun.connect(close_connections, weak=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=WAIT,
                          queues=["celery", settings.RISK_QUEUE]):
            yield
    finally:
        task_postrun.disconnect(close_connections)


@pytest.fixture
def worker(transactional_db, redis_settings):
    """A worker for one test (its rows must be committed for the worker thread to see them)."""
    with running_worker():
        yield


def wait_until(predicate, timeout=WAIT):
    """Poll a condition the test cannot be told about (a database row); bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def redis_down(settings):
    """Redis unreachable for this test: the channel layer and the Celery broker point at a closed port."""
    from escalation.celery import app as celery_app

    from .servers import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    previous = celery_app.conf.broker_url
    settings.CHANNEL_LAYERS = _channel_layers_for(dead, getattr(settings, "CHANNEL_LAYERS", None))
    point_broker_at(dead)
    yield dead
    point_broker_at(previous)
