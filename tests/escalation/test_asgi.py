"""escalation/asgi.py: HTTP runs the way the performance work relies on (docs/performance.md).

Django's own ASGI handler gives each request a new thread, so a new database connection; ours runs
every request's middleware and view in the process's one sync thread, keeping its connection."""
import threading

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.asgi import get_asgi_application
from django.core.signals import request_finished
from django.db import connection

from escalation.asgi import django_asgi_app


def scope(path):
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
            "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 5000), "server": ("localhost", 80)}


async def get(application, path):
    communicator = ApplicationCommunicator(application, scope(path))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(10)
    body = await communicator.receive_output(10)
    await communicator.wait(10)
    return start["status"], body["body"]


@pytest.fixture
def where_requests_ran():
    """(thread, database connection) of each request, held so that neither id can be reused."""
    seen = []

    def record(**kwargs):  # runs where the request's sync code ran, after the response
        seen.append((threading.current_thread(), connection.connection))

    request_finished.connect(record)
    yield seen
    request_finished.disconnect(record)
    for raw in {id(raw): raw for _, raw in seen if raw is not connection.connection}.values():
        raw.close()  # the stock handler's threads are gone and left their connections open


@pytest.mark.django_db(transaction=True)
def test_requests_share_one_thread_and_its_database_connection(where_requests_ran):
    for _ in range(3):
        assert async_to_sync(get)(django_asgi_app, "/healthz") == (200, b'{"status": "ok"}')
    threads, connections = zip(*where_requests_ran)
    assert len(set(threads)) == 1 and len({id(c) for c in connections}) == 1, where_requests_ran


@pytest.mark.django_db(transaction=True)
def test_djangos_own_handler_would_use_a_thread_per_request(where_requests_ran):
    """The control: what the test above would see without our handler."""
    stock = get_asgi_application()
    for _ in range(3):
        assert async_to_sync(get)(stock, "/healthz")[0] == 200
    assert len({thread for thread, _ in where_requests_ran}) == 3
