"""/demo/: an end user's chat, for trying the whole flow from `make run` (only when DEMO=1).

The page's script is the "product": it calls the real product API with the demo product's key,
answers with a canned AI line when the directives allow, and polls for the operator's messages.
The key is the local demo key from var/ (never a real one); outside DEMO the page does not exist.
"""
from django.conf import settings
from django.http import Http404
from django.shortcuts import render


def chat(request):
    if not settings.DEMO:
        raise Http404
    key_file = settings.VAR_DIR / "demo_api_key"
    key = key_file.read_text().strip() if key_file.exists() else ""
    return render(request, "demo/chat.html", {"demo": {"key": key}})
