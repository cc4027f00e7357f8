"""Two Daphne processes sharing Redis: an incident posted to one reaches an operator on the other."""
import asyncio
import json
import urllib.request

import pytest
import websockets
from django.test import Client

from conversations.models import ApiKey
from tests.support.processes import daphne

from .helpers import PASSWORD, operator_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def post_explicit(base_url, key):
    body = json.dumps({"id": "m-1", "user": "u-1", "role": "user", "text": "I will kill myself tonight"}).encode()
    request = urllib.request.Request(f"{base_url}/api/v1/conversations/c-1/messages", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


async def first_frame(socket, frame_type):
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
        if frame["type"] == frame_type:
            return frame


def test_an_incident_posted_to_one_process_reaches_an_operator_on_the_other(product, redis_settings):
    redis_server = redis_settings  # flushed afterwards: the Daphnes queue an auto-notify timer there
    key = ApiKey.issue(product)[1]
    client = Client()
    operator_of(product)
    assert client.login(username="olive", password=PASSWORD)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    with daphne(redis_server.url) as console_server, daphne(redis_server.url) as api_server:
        async def scenario():
            ws_url = console_server.replace("http://", "ws://") + "/ws/console/"
            async with websockets.connect(ws_url, additional_headers={"Cookie": cookie, "Origin": console_server}) \
                    as socket:
                assert (await first_frame(socket, "queue.snapshot"))["incidents"] == []
                await asyncio.to_thread(post_explicit, api_server, key)
                opened = await first_frame(socket, "incident.opened")
                assert opened["incident"]["conversation"] == "c-1" and opened["incident"]["level"] == "explicit"

        asyncio.run(scenario())
