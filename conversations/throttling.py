"""Rate limit per API key: a fixed one-minute window counted in Django's cache.

DRF's own SimpleRateThrottle keeps every request's timestamp in a list (O(rate) work per request at
thousands per minute); a counter per window is O(1). Per-process cache (LocMem) by default: with
several web processes each enforces the limit on its own — set a shared cache (Redis) to pool them.
"""
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from .models import ApiKey

WINDOW_SECONDS = 60


class ApiKeyRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        if not isinstance(request.auth, ApiKey) or not settings.API_RATE_LIMIT_PER_MINUTE:
            return True
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        self.retry_after = (window + 1) * WINDOW_SECONDS - now
        key = f"ratelimit:{request.auth.pk}:{window}"
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr: count this request as the first
            cache.set(key, 1, timeout=WINDOW_SECONDS * 2)
            count = 1
        return count <= settings.API_RATE_LIMIT_PER_MINUTE

    def wait(self):
        return self.retry_after
