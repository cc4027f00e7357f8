"""Bearer API keys: one product (tenant) per key."""
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from escalation import audit

from .models import ApiKey, Product, hash_api_key

# Every API request names its key: a process-local cache (LocMem, settings.CACHES) saves the lookup
# query on all but the first request per KEY_CACHE_SECONDS. Saving or deleting a key (revoking it
# in the admin) or saving its product drops the entry at once in this process; other processes, and
# changes made with queryset.update(), are seen within the TTL.
# Unknown keys are not cached, so a bad client cannot fill the cache.
KEY_CACHE_SECONDS = 30


def _cache_key(hashed_key):
    return f"apikey:{hashed_key}"


def lookup_key(hashed_key):
    """The ApiKey (with its product) for a hashed key, or None; cached for KEY_CACHE_SECONDS."""
    api_key = cache.get(_cache_key(hashed_key))
    if api_key is None:
        api_key = ApiKey.objects.select_related("product").filter(hashed_key=hashed_key).first()
        if api_key is not None:
            cache.set(_cache_key(hashed_key), api_key, KEY_CACHE_SECONDS)
    return api_key


@receiver([post_save, post_delete], sender=ApiKey, dispatch_uid="apikey-cache-invalidate")
def forget_key(sender, instance, **kwargs):
    cache.delete(_cache_key(instance.hashed_key))


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
        api_key = lookup_key(hash_api_key(key.strip()))
        # revoked_at is checked on every request, so a key revoked for a future time stops then.
        if api_key is None or (api_key.revoked_at and api_key.revoked_at <= timezone.now()):
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        audit.key_used(api_key)  # in the audit trail at most once per key per hour (no query in between)
        return ProductPrincipal(api_key.product), api_key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class IsProduct(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)


def product_of(request):
    return request.user.product
