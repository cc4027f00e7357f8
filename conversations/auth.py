"""Bearer API keys: one product (tenant) per key."""
from django.core.cache import cache
from django.db import connection
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from escalation import audit
from escalation.database import retry_when_locked

from .models import ApiKey, Product, hash_api_key

# Every API request names its key. The key's row and its product are kept in a process-local
# cache (LocMem, settings.CACHES) for KEY_CACHE_SECONDS: building them with the ORM costs more than
# the rest of the check. Whether the key is still valid is never taken from that cache: each
# request reads the key's `revoked_at` with one indexed query (`is_live`), so a key revoked
# anywhere (another process, `manage.py revoke_api_key`, a queryset.update()) is refused by every
# process on its next request. Measured in-process on SQLite (docs/performance.md): the check costs
# about 25 µs against about 460 µs for the ORM lookup it does not repeat, and a Redis round trip
# for a shared cache cost about 210 µs and would need a fallback while Redis is down.
# Saving a product drops its keys' entries in this process; other processes see a changed product
# (its webhook URL and secret) within the TTL. Unknown keys are not cached, so a bad client cannot
# fill the cache.
KEY_CACHE_SECONDS = 30


def _cache_key(hashed_key):
    return f"apikey:{hashed_key}"


def lookup_key(hashed_key):
    """The ApiKey (with its product) for a hashed key, or None; cached for KEY_CACHE_SECONDS.
    Its `revoked_at` may be stale: `is_live` reads the stored one."""
    api_key = cache.get(_cache_key(hashed_key))
    if api_key is None:
        api_key = ApiKey.objects.select_related("product").filter(hashed_key=hashed_key).first()
        if api_key is not None:
            cache.set(_cache_key(hashed_key), api_key, KEY_CACHE_SECONDS)
    return api_key


def is_live(hashed_key) -> bool:
    """Whether the key's row exists now and is not revoked (a revocation for a future time counts
    from then). Plain SQL on the unique index: the ORM spends ten times the query's time building
    it. The time is adapted as the ORM adapts it, so the comparison is the ORM's on both databases."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {ApiKey._meta.db_table} WHERE hashed_key = %s "
                       "AND (revoked_at IS NULL OR revoked_at > %s)", [hashed_key, now])
        return cursor.fetchone() is not None


@receiver(post_save, sender=Product, dispatch_uid="apikey-cache-invalidate-product")
def forget_product_keys(sender, instance, **kwargs):
    """The cached key carries its product (webhook URL and secret): a changed product is read again."""
    cache.delete_many([_cache_key(h) for h in ApiKey.objects.filter(product=instance).values_list("hashed_key",
                                                                                                   flat=True)])


class ProductPrincipal:
    """What `request.user` is on the product API: the product the key belongs to."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, product):
        self.product = product

    def __str__(self):
        return self.product.name


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <API key>'.")
        hashed = hash_api_key(key.strip())
        api_key = lookup_key(hashed)
        # The stored row, on every request: a revocation is immediate everywhere, and a key revoked
        # for a future time stops then.
        if api_key is None or not is_live(hashed):
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        # In the audit trail at most once per key per hour (no query in between); a write, so it
        # must not turn a crisis into a 503 on SQLite either (escalation.database).
        retry_when_locked(lambda: audit.key_used(api_key))
        return ProductPrincipal(api_key.product), api_key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class IsProduct(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)


def product_of(request):
    return request.user.product
