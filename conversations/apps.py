from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"

    def ready(self):
        from . import schema  # noqa: F401  (registers the API key scheme with drf-spectacular)
