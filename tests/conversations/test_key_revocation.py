"""Revoking an API key is immediate in every web process, not only the one that revoked it.

Each process caches its keys (LocMem); a revocation made elsewhere (another process, the
`revoke_api_key` command, a `queryset.update()`) must still be refused on the next request."""
import json
import urllib.error
import urllib.request
from io import StringIO

import pytest
from django.core.management import call_command

from conversations.models import ApiKey
from tests.support.processes import daphne

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def post(base_url, key, message_id):
    body = json.dumps({"id": message_id, "user": "u-1", "role": "user", "text": "Hello"}).encode()
    request = urllib.request.Request(f"{base_url}/api/v1/conversations/c-1/messages", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_key_revoked_by_the_command_is_refused_at_once_by_a_running_server(product, redis_server):
    key = ApiKey.issue(product)[1]
    with daphne(redis_server.url) as server:
        assert post(server, key, "m-1") == 201  # the server has the key in its own cache now
        assert post(server, key, "m-2") == 201
        call_command("revoke_api_key", key[:ApiKey.PREFIX_LENGTH], stdout=StringIO())  # this process, not the server's
        assert post(server, key, "m-3") == 401


def test_a_key_revoked_by_an_update_is_refused_at_once_by_a_running_server(product, redis_server):
    key = ApiKey.issue(product)[1]
    with daphne(redis_server.url) as server:
        assert post(server, key, "m-1") == 201
        ApiKey.objects.update(revoked_at="2000-01-01T00:00:00Z")  # no signal anywhere
        assert post(server, key, "m-2") == 401
