import pytest
from rest_framework.test import APIClient

from conversations.models import ApiKey, Product

pytest_plugins = ["tests.support.fixtures"]


def pytest_configure(config):
    from django.conf import settings

    # Staff passwords in tests need no brute-force resistance; PBKDF2 would cost ~0.3 s a user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _login_lockout_off_unless_tested(request, settings):
    """django-axes needs the request at authenticate(), which the test client's login() omits;
    tests of the lockout itself mark themselves `axes` and log in through the real form."""
    settings.AXES_ENABLED = "axes" in request.keywords


@pytest.fixture
def product(db):
    return Product.objects.create(name="companion-a")


@pytest.fixture
def api_key(product):
    return ApiKey.issue(product)[1]


def client_for(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def api(api_key):
    """An HTTP client authenticated as product A."""
    return client_for(api_key)


@pytest.fixture
def other_api(db):
    """An HTTP client authenticated as another product, B."""
    return client_for(ApiKey.issue(Product.objects.create(name="companion-b"))[1])


@pytest.fixture
def fresh_cache():
    """An empty cache (API keys, rate-limit counters) before and after the test."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
