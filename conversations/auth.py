"""Bearer API keys: one product (tenant) per key."""
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from .models import ApiKey, hash_api_key


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
        api_key = (
            ApiKey.objects.select_related("product")
            .filter(hashed_key=hash_api_key(key.strip()))
            .first()
        )
        if api_key is None or (api_key.revoked_at and api_key.revoked_at <= timezone.now()):
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        return ProductPrincipal(api_key.product), api_key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class IsProduct(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)


def product_of(request):
    return request.user.product
