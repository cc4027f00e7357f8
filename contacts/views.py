"""Public endpoints of the contacts app: Twilio's status callbacks and the contact verification link."""
from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from twilio.request_validator import RequestValidator

from . import chain, registration


@csrf_exempt  # Twilio cannot send a CSRF token; its signature authenticates the request instead
@require_POST
def twilio_status(request):
    """Delivery reports for SMS and calls. Forged requests get 403; duplicates change nothing."""
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not settings.TWILIO_AUTH_TOKEN or not RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(
            url, request.POST.dict(), signature):
        return HttpResponseForbidden("invalid signature")
    sid = request.POST.get("MessageSid") or request.POST.get("CallSid") or ""
    status = request.POST.get("MessageStatus") or request.POST.get("CallStatus") or ""
    if sid and status:
        chain.delivery_report(sid, status, request.POST.get("ErrorCode", ""))
    return HttpResponse(status=204)


@require_http_methods(["GET", "POST"])
def verify_contact(request, token):
    """GET shows a confirm button (link previews must not verify anyone); POST confirms, once."""
    if request.method == "POST":
        confirmed = registration.confirm(token)
        return render(request, "contacts/verify.html", {"state": "done" if confirmed else "invalid"},
                      status=200 if confirmed else 410)
    verification = registration.verification_for(token)
    if verification is None:
        return render(request, "contacts/verify.html", {"state": "invalid"}, status=410)
    end_user = verification.contact.end_user
    return render(request, "contacts/verify.html", {"state": "ask", "service": end_user.product.name})
