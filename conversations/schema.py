"""Tells drf-spectacular how the product API authenticates (imported when the app is ready)."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "conversations.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A product's API key: `Authorization: Bearer <key>` (manage.py create_api_key)."}
