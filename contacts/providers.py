"""Ways to reach a phone: one class per provider (Twilio, and the built-in outbox of `make run`).

A provider's `send_sms` / `call` return a `Sent` or raise `ProviderError`, saying whether trying
again later could help (429, 5xx, timeouts) or not (a refused number): the chain decides what next.
"""
import logging
import secrets
from dataclasses import dataclass

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

log = logging.getLogger(__name__)
TWILIO_DEFAULT_API = "https://api.twilio.com"
HTTP_TIMEOUT = 10  # seconds; Twilio's SDK has no timeout of its own


@dataclass
class Sent:
    sid: str
    status: str  # the provider's own word: queued, sent, delivered...


class ProviderError(Exception):
    def __init__(self, code, message, retryable):
        super().__init__(message)
        self.code, self.message, self.retryable = str(code), message, retryable


class OutboxProvider:
    """No SMS leaves the machine: each message is recorded as sent and delivered (the embedded default)."""

    name = "outbox"
    can_call = False
    reports_delivery = False

    def send_sms(self, to, body, status_callback=None) -> Sent:
        return Sent(sid=f"outbox-{secrets.token_hex(8)}", status="delivered")

    def call(self, to, say, status_callback=None) -> Sent:
        raise ProviderError("no_voice", "The outbox provider cannot call.", retryable=False)


class TwilioProvider:
    """The real twilio SDK; TWILIO_API_URL sends its REST calls to a stand-in (tests, staging)."""

    name = "twilio"
    reports_delivery = True

    def __init__(self):
        self.client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN,
                             http_client=RedirectingHttpClient(settings.TWILIO_API_URL, timeout=HTTP_TIMEOUT))
        self.can_call = bool(settings.TWILIO_VOICE_ENABLED)

    def _sender(self):
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            return {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
        return {"from_": settings.TWILIO_FROM_NUMBER}

    def send_sms(self, to, body, status_callback=None) -> Sent:
        message = self._call(lambda: self.client.messages.create(
            to=to, body=body, status_callback=status_callback, **self._sender()))
        return Sent(sid=message.sid, status=message.status or "queued")

    def call(self, to, say, status_callback=None) -> Sent:
        twiml = VoiceResponse()
        twiml.say(say, loop=2)
        call = self._call(lambda: self.client.calls.create(
            to=to, from_=settings.TWILIO_FROM_NUMBER, twiml=str(twiml), status_callback=status_callback,
            status_callback_event=["completed"]))
        return Sent(sid=call.sid, status=call.status or "queued")

    @staticmethod
    def _call(request):
        try:
            return request()
        except TwilioRestException as error:
            retryable = error.status == 429 or error.status >= 500
            raise ProviderError(error.code or error.status, f"Twilio {error.status}", retryable) from None
        except requests.RequestException as error:  # timeouts, refused connections
            raise ProviderError(error.__class__.__name__, "Twilio unreachable", retryable=True) from None


class RedirectingHttpClient(TwilioHttpClient):
    """Twilio's HTTP client with a timeout, sending every REST call to `base_url` when one is set."""

    def __init__(self, base_url, **kwargs):
        super().__init__(**kwargs)
        self.base_url = (base_url or "").rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base_url and url.startswith(TWILIO_DEFAULT_API):
            url = self.base_url + url[len(TWILIO_DEFAULT_API):]
        return super().request(method, url, *args, **kwargs)


def get_provider():
    if settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN:
        return TwilioProvider()
    return OutboxProvider()
