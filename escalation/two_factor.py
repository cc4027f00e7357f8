"""Optional two-factor authentication (TOTP apps) for staff, required per role by the admins.

django-otp does the cryptography and the session bookkeeping; this module only decides who must
use it, and offers the two pages: set up an authenticator app, and enter its code.
"""
from io import BytesIO
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django_otp import DEVICE_ID_SESSION_KEY, login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import RolePolicy
from .roles import role_of

SETUP_URL, VERIFY_URL = "/accounts/2fa/setup/", "/accounts/2fa/"
ALWAYS_ALLOWED = (SETUP_URL, VERIFY_URL, "/accounts/logout/", "/static/", "/i18n/", "/healthz")


def required_for(user) -> bool:
    """Whether this staff member must pass two-factor: the one rule the pages and the socket share.

    A superuser is an admin whatever their groups say (the Django admin is theirs). Staff with no
    role at all (`createsuperuser` without --role, a hand-made account) are asked if any role is:
    we cannot tell what they are for, so the strictest rule applies. The cost: an admin who turns
    two-factor on for operators also asks such accounts; giving them their role ends that."""
    if not user.is_authenticated or not user.is_staff:
        return False
    roles = {role_of(user)} - {None} | ({"admin"} if user.is_superuser else set())
    policies = RolePolicy.objects.filter(require_two_factor=True)
    return (policies.filter(role__in=roles) if roles else policies).exists()


def passed(user, session) -> bool:
    """For the websocket, which has the session but not django-otp's middleware: as that
    middleware does, the session's device must still exist, be confirmed and be this user's
    (an admin's reset of a lost phone deletes it)."""
    if not required_for(user):
        return True
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed


class RequireTwoFactorMiddleware:
    """Staff whose role requires two-factor reach nothing but its pages until they pass it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (not request.path.startswith("/api/") and not request.path.startswith(ALWAYS_ALLOWED)
                and required_for(user) and not user.is_verified()):
            has_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
            return redirect(f"{VERIFY_URL if has_device else SETUP_URL}?next={request.get_full_path()}")
        return self.get_response(request)


class TokenForm(forms.Form):
    token = forms.CharField(label=_("Code from your authenticator app"), max_length=8,
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


def _next(request):
    target = request.GET.get("next", "/console/")
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else "/console/"


@login_required
def setup(request):
    """Show a new TOTP secret as a QR code; the first correct code confirms the device.

    Once the user has a confirmed device, only a session verified with it may add another: else a
    password alone would enrol a new authenticator and pass two-factor with it (issue 12). Someone
    who lost their phone cannot verify, so an admin removes their devices (the user admin's
    "Remove two-factor devices" action, audited) and they set up afresh."""
    if not request.user.is_verified() and TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        return redirect(f"{VERIFY_URL}?{urlencode({'next': _next(request)}, safe='/')}")
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first() or \
        TOTPDevice.objects.create(user=request.user, name="authenticator", confirmed=False)
    form = TokenForm(request.POST or None)
    if form.is_valid() and device.verify_token(form.cleaned_data["token"]):
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        otp_login(request, device)
        return redirect(_next(request))
    if form.is_bound:
        form.add_error("token", _("That code is not right; check the time on your phone and try again."))
    image = BytesIO()
    qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage).save(image)
    return render(request, "two_factor/setup.html", {"form": form, "qr_svg": image.getvalue().decode(),
                                                     "secret": device.config_url})


@login_required
def verify(request):
    form = TokenForm(request.POST or None)
    if form.is_valid():
        for device in TOTPDevice.objects.filter(user=request.user, confirmed=True):
            if device.verify_token(form.cleaned_data["token"]):
                otp_login(request, device)
                return redirect(_next(request))
        form.add_error("token", _("That code is not right."))
    return render(request, "two_factor/verify.html", {"form": form})
