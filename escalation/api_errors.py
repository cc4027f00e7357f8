"""Every API error is JSON in the contract's shape: {"error": {"code", "message", "fields"}}."""
import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5

CODES = {
    exceptions.ParseError: (400, "malformed_json"),
    exceptions.AuthenticationFailed: (401, "unauthenticated"),
    exceptions.NotAuthenticated: (401, "unauthenticated"),
    exceptions.PermissionDenied: (403, "forbidden"),
    exceptions.NotFound: (404, "not_found"),
    exceptions.MethodNotAllowed: (405, "method_not_allowed"),
    exceptions.NotAcceptable: (406, "not_acceptable"),
    exceptions.UnsupportedMediaType: (415, "unsupported_media_type"),
    exceptions.Throttled: (429, "rate_limited"),
}


def error_response(status_code, code, message, fields=None, headers=None):
    response = JsonResponse({"error": {"code": code, "message": message, "fields": fields or {}}},
                            status=status_code, json_dumps_params={"ensure_ascii": False})
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def flatten(detail, prefix=""):
    """DRF's nested error detail as {"contacts[0].phone": "message"}."""
    if isinstance(detail, dict):
        out = {}
        for key, value in detail.items():
            if isinstance(key, int):  # DRF keys a list's item errors by index
                out.update(flatten(value, f"{prefix}[{key}]"))
                continue
            name = key if key != "non_field_errors" else "body"
            out.update(flatten(value, f"{prefix}.{name}" if prefix else name))
        return out
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return {prefix or "body": " ".join(str(item) for item in detail)}
        out = {}
        for index, item in enumerate(detail):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix or "body": str(detail)}


def exception_handler(exc, context):
    from conversations.services import ApiProblem  # the services' own refusals

    if isinstance(exc, ApiProblem):
        return error_response(exc.status, exc.code, exc.message, exc.fields)
    if isinstance(exc, exceptions.ValidationError):
        return error_response(422, "invalid", "The request body is not valid.", flatten(exc.detail))
    if isinstance(exc, RequestDataTooBig):
        return body_too_large()
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is down or locked: nothing was acknowledged, so the product retries.
        # The driver's message says which fault it is ("database is locked", "could not connect to
        # server"...); it carries no request data.
        logger.error("database unavailable: %s: %s", exc.__class__.__name__, exc)
        return error_response(503, "unavailable", "The service is briefly unavailable; retry shortly.",
                              headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    for exc_class, (status_code, code) in CODES.items():
        if isinstance(exc, exc_class):
            headers = {}
            if getattr(exc, "auth_header", None):
                headers["WWW-Authenticate"] = exc.auth_header
            if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
                headers["Retry-After"] = str(int(exc.wait) + 1)
            if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
                headers["WWW-Authenticate"] = 'Bearer realm="api"'
            return error_response(status_code, code, str(exc.detail), headers=headers)
    if isinstance(exc, exceptions.APIException):
        return error_response(exc.status_code, exc.default_code, str(exc.detail))
    return None  # a bug: Django's 500 handler answers (JSON on /api/)


def body_too_large():
    return error_response(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "body_too_large", "The request body is over 1 MB.")


class StrictJSONParser(JSONParser):
    """JSON that cannot be parsed (including absurdly deep nesting) is a 400, never a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.")


def api_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return error_response(404, "not_found", "Not found.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def api_server_error(request):
    if request.path.startswith("/api/"):
        return error_response(500, "server_error", "Something went wrong on our side; it has been logged.")
    from django.views.defaults import server_error

    return server_error(request)
