import pytest

from tests.conftest import client_for


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    yield


@pytest.mark.django_db
def test_each_key_is_limited_on_its_own_with_retry_after(api, other_api, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    statuses = [api.get("/api/v1/users/nobody").status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    limited = api.get("/api/v1/users/nobody")
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 61
    assert other_api.get("/api/v1/users/nobody").status_code == 404, "another product's key is not limited"


@pytest.mark.django_db
def test_two_keys_of_one_product_are_counted_apart(product, api_key, settings):
    from conversations.models import ApiKey

    settings.API_RATE_LIMIT_PER_MINUTE = 1
    second = client_for(ApiKey.issue(product)[1])
    assert client_for(api_key).get("/api/v1/users/x").status_code == 404
    assert second.get("/api/v1/users/x").status_code == 404
    assert second.get("/api/v1/users/x").status_code == 429
