"""The ASGI application Daphne serves: Django for HTTP, Channels for the console's websockets.

HTTP runs through `OneThreadASGIHandler` instead of Django's own ASGI handler; see there why.
"""
import os

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escalation.settings")


class OneThreadASGIHandler(ASGIHandler):
    """Django's ASGI handler with the request/response cycle run as WSGI runs it: every view and
    most middleware here are synchronous, so the whole middleware chain and the view run in one
    hop to one thread, the process's single sync thread.

    Django's own handler (Django 5.2) builds the middleware chain async, hops to a thread for the
    sync-only middleware (whitenoise, ours), back to the event loop for the async-capable ones,
    and to a thread again for the view; and it gives every request a new thread, so a new database
    connection (connections are per thread). Measured on the message endpoint under load
    (docs/performance.md): a third more requests per second, and a p99 of 0.5 s instead of 4 s
    (32 requests' threads were fighting over the GIL and SQLite's write lock).

    The cost: one process runs one request's Python at a time, as a WSGI worker does. That is
    what the GIL allowed anyway, and SQLite has one writer; `run_stack.py` starts one web process
    per core. Websockets are untouched: Channels consumers are async and their database calls
    already share the same sync thread.
    """

    def __init__(self):
        BaseHandler.__init__(self)  # not ASGIHandler.__init__, which builds an async chain
        self.load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # Django wraps this in ThreadSensitiveContext (a new thread per request); without it,
        # thread-sensitive work goes to asgiref's one process-wide sync thread.
        await self.handle(scope, receive, send)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def django_http_application():
    import django

    django.setup(set_prefix=False)
    return OneThreadASGIHandler()


django_asgi_app = django_http_application()

# Imported after Django is set up (they import models).
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from .routing import websocket_urlpatterns  # noqa: E402


class ConsoleOriginValidator(OriginValidator):
    """Only pages of the console's own origins may open its socket: PUBLIC_BASE_URL and
    CSRF_TRUSTED_ORIGINS, each a full origin, so channels' matching compares scheme, host and port.

    Channels' AllowedHostsOriginValidator matched the Origin's host against ALLOWED_HOSTS and ignored
    scheme and port: any page served from localhost (http://localhost:9999, another local app) could
    open the socket with the operator's cookie. The list is read on each handshake, so settings
    changed in tests apply."""

    def __init__(self, application):
        self.application = application

    @property
    def allowed_origins(self):
        return [origin for origin in (settings.PUBLIC_BASE_URL, *settings.CSRF_TRUSTED_ORIGINS)
                if "://" in origin]  # never a bare host (any scheme and port) nor "*"


application = ProtocolTypeRouter({
    "http": django_asgi_app,
    # Session-authenticated staff only; sockets from other origins are refused.
    "websocket": ConsoleOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
