"""The throwaway Redis that tests use starts, serves, and leaves nothing behind when stopped."""
import socket
import sys

import redis

from tests.support.servers import RedisServer, ping, start_redis

if "tests.support.fixtures" not in sys.modules:
    # tests/conftest.py has not registered the plugin (yet): use its fixtures here directly.
    from tests.support.fixtures import redis_server, redis_settings  # noqa: F401


def refuses(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_start_redis_serves_and_stop_frees_the_port():
    server = start_redis()
    try:
        assert isinstance(server, RedisServer)
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        client = redis.Redis.from_url(server.url)
        assert client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
        client.close()
        # No persistence: nothing is configured to be written.
        assert redis.Redis.from_url(server.url).config_get("save") == {"save": ""}
        assert redis.Redis.from_url(server.url).config_get("appendonly") == {"appendonly": "no"}
    finally:
        server.stop()
    assert server.process.poll() is not None
    assert not server.directory.exists()
    assert refuses(server.host, server.port)
    server.stop()  # idempotent


def test_start_redis_as_context_manager():
    with start_redis() as server:
        assert ping(server.host, server.port)
    assert refuses(server.host, server.port)


def test_two_servers_are_independent():
    with start_redis() as first, start_redis() as second:
        assert first.port != second.port
        redis.Redis.from_url(first.url).set("k", "1")
        assert redis.Redis.from_url(second.url).get("k") is None


def test_redis_settings_points_the_stack_at_the_test_redis(redis_settings, settings):
    url = redis_settings.url
    assert settings.REDIS_URL == url
    assert settings.CELERY_BROKER_URL == url
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] == [url]

    from escalation.celery import app

    assert app.conf.broker_url == url
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        assert (conn.hostname, conn.port) == ("127.0.0.1", redis_settings.port)


def test_channel_layer_round_trip_through_test_redis(redis_settings):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert layer.hosts[0]["address"] == redis_settings.url

    async def round_trip():
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "hello", "text": "hi"})
        return await layer.receive(channel)

    assert async_to_sync(round_trip)() == {"type": "hello", "text": "hi"}
