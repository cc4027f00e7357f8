"""The baseline: the smallest Django app answering the same request, under the same Daphne command.

One file is both its settings (DJANGO_SETTINGS_MODULE=scripts.bench.baseline_app) and its ASGI app
(`daphne scripts.bench.baseline_app:application`). No database, no middleware, no DRF: it parses
the JSON body and answers 201 with the same JSON shape as POST /api/v1/conversations/{id}/messages.
"""
import json
import os

from django.http import JsonResponse
from django.urls import path, re_path

SECRET_KEY = "baseline-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = __name__
INSTALLED_APPS = []
MIDDLEWARE = []
USE_TZ = True
DATABASES = {}


def healthz(request):
    return JsonResponse({"ok": True})


def messages(request, conversation_id):
    data = json.loads(request.body)
    return JsonResponse({
        "message": {"id": data["id"], "role": data["role"], "received_at": "2026-01-01T00:00:00+00:00"},
        "assessment": {"level": "none", "category": None, "source": "console"},
        "conversation": {"id": conversation_id, "mode": "ai", "continuous_use_minutes": 0},
        "directives": [],
    }, status=201)


urlpatterns = [
    path("healthz", healthz),
    re_path(r"^api/v1/conversations/(?P<conversation_id>[^/]{1,128})/messages$", messages),
]

os.environ.setdefault("DJANGO_SETTINGS_MODULE", __name__)
if os.environ["DJANGO_SETTINGS_MODULE"] == __name__:
    from django.core.asgi import get_asgi_application

    application = get_asgi_application()
