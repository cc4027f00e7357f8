from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from conversations.models import ApiKey, Product
from escalation.roles import role_of
from tests.conftest import client_for


@pytest.mark.django_db
def test_create_api_key_prints_a_working_key_on_its_last_line():
    out = StringIO()
    call_command("create_api_key", "acme", "--webhook-url", "https://acme.example/hooks", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    product = Product.objects.get(name="acme")
    assert product.webhook_url == "https://acme.example/hooks"
    assert key not in str(list(ApiKey.objects.values()))  # stored hashed, not in clear
    assert ApiKey.objects.get().prefix == key[:12]
    assert client_for(key).get("/api/v1/users/nobody").status_code == 404  # authenticated, just unknown


@pytest.mark.django_db
def test_create_api_key_twice_keeps_one_product_and_two_live_keys():
    for _ in range(2):
        call_command("create_api_key", "acme", stdout=StringIO())
    assert Product.objects.count() == 1 and ApiKey.objects.count() == 2


@pytest.mark.django_db
def test_create_api_key_refuses_a_bad_webhook_url():
    with pytest.raises(CommandError):
        call_command("create_api_key", "acme", "--webhook-url", "not a url", stdout=StringIO())
    assert not Product.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["operator", "supervisor", "admin"])
def test_create_operator(role, client):
    call_command("create_operator", "sam", "--password", "long-enough-1", "--role", role, stdout=StringIO())
    user = User.objects.get(username="sam")
    assert user.is_staff and role_of(user) == role
    assert user.is_superuser == (role == "admin")
    assert client.login(username="sam", password="long-enough-1")


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_keeps_its_key(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    outputs = []
    for _ in range(2):
        out = StringIO()
        call_command("seed_demo", stdout=out)
        outputs.append(out.getvalue().splitlines())
    assert outputs[0] == outputs[1]
    key = outputs[0][-1].removeprefix("api key: ")
    assert client_for(key).get("/api/v1/users/x").status_code == 404
    assert outputs[0][-2] == "login: operator / operator-demo"


@pytest.mark.django_db
def test_rotation_two_live_keys_then_the_old_one_revoked():
    keys = []
    for _ in range(2):
        out = StringIO()
        call_command("create_api_key", "acme", stdout=out)
        keys.append(out.getvalue().strip().splitlines()[-1])
    old, new = (client_for(key) for key in keys)
    assert old.get("/api/v1/users/x").status_code == 404 and new.get("/api/v1/users/x").status_code == 404
    call_command("revoke_api_key", keys[0][:12], "--in-minutes", "30", stdout=StringIO())
    assert old.get("/api/v1/users/x").status_code == 404, "still valid during the grace period"
    call_command("revoke_api_key", keys[0][:12], stdout=StringIO())
    assert old.get("/api/v1/users/x").status_code == 401, "revoked at once, cache or not"
    assert new.get("/api/v1/users/x").status_code == 404


@pytest.mark.django_db
def test_revoking_an_unknown_prefix_is_an_error():
    with pytest.raises(CommandError):
        call_command("revoke_api_key", "ek_nothing", stdout=StringIO())
