"""No personal data in logs: a whole crisis flow, with every log record captured and searched."""
import logging

import pytest

from contacts import chain
from contacts.models import Notification
from escalation import takeover
from tests.escalation.helpers import operator_of

PHONE, NAME, TEXT = "+8613800138000", "Li Hua", "I am going to kill myself tonight with the pills"


@pytest.mark.django_db(transaction=True)
def test_a_crisis_flow_logs_no_phone_name_or_message_text(api, product, caplog, settings, redis_down):
    """Redis is down, so every frame and hand-off logs a warning: those are what is searched."""
    settings.TWILIO_ACCOUNT_SID = ""  # the outbox provider
    caplog.set_level(logging.DEBUG)
    api.put("/api/v1/users/u-1", {"birth_date": "2012-01-01", "first_name": "Xiaoming", "contacts": [
        {"name": NAME, "kind": "guardian", "phone": PHONE}]}, format="json")
    api.post("/api/v1/conversations/c-1/messages", {"id": "m-1", "user": "u-1", "role": "user", "text": TEXT},
             format="json")
    api.post("/api/v1/conversations/c-1/messages", {"id": "m-1", "user": "u-1", "role": "user", "text": "other"},
             format="json")  # a 409, logged as a client error
    from escalation.models import Incident

    incident = Incident.objects.get()
    olive = operator_of(product)
    takeover.claim(olive, incident.pk)
    takeover.send_message(olive, incident.pk, "Olive here, staying with you")
    takeover.notify_contacts(olive, incident.pk)
    for pk in Notification.objects.values_list("pk", flat=True):
        chain.send(pk)
    logged = "\n".join(record.getMessage() + repr(record.args) for record in caplog.records)
    assert caplog.records, "the flow logged something, so the search below means something"
    for secret in (PHONE, "13800138000", NAME, TEXT, "Xiaoming", "Olive here"):
        assert secret not in logged
