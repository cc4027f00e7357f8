from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "escalation"
    verbose_name = "Escalation (incidents)"

    def ready(self):
        from . import console_rights

        console_rights.connect()  # open console sockets hear of logouts and rights changes
