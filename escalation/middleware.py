from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from .api_errors import body_too_large, error_response
from .params import whole_number


class ApiBodyLimitMiddleware:
    """Bodies over API_MAX_BODY_BYTES get a JSON 413 before anything parses them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH"):
            length = whole_number(request.META.get("CONTENT_LENGTH") or "0")
            if length is None:  # Django's own int() of it would raise: a 500
                return error_response(400, "invalid", "Content-Length must be a number of bytes.")
            if length > settings.API_MAX_BODY_BYTES:
                return body_too_large()
            try:
                request.body  # enforces DATA_UPLOAD_MAX_MEMORY_SIZE for bodies without a length
            except RequestDataTooBig:
                return body_too_large()
        return self.get_response(request)
