"""Fixtures of the contact tests: a stand-in Twilio and an explicit incident of a minor with three contacts."""
import pytest
from django.utils import timezone

from contacts.models import Contact, Notification
from tests.escalation.helpers import flagged
from tests.support.fake_twilio import FakeTwilio

MOTHER, FATHER, AUNT = "+8613800138000", "+8613900139000", "+8613700137000"
AUTH_TOKEN = "twilio-test-auth-token"
CHAT_TEXT = "I am going to end it tonight, nobody will miss me"


@pytest.fixture
def twilio(settings):
    with FakeTwilio() as fake:
        settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
        settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
        settings.TWILIO_FROM_NUMBER = "+15005550006"
        settings.TWILIO_API_URL = fake.url
        settings.PUBLIC_BASE_URL = "https://console.example"
        yield fake


@pytest.fixture
def incident(api, product):
    """An explicit incident of a minor with three contacts, all verified."""
    contacts = [{"name": n, "relationship": r, "kind": "guardian", "phone": p, "priority": i + 1}
                for i, (n, r, p) in enumerate([("Li Hua", "mother", MOTHER), ("Wang Qiang", "father", FATHER),
                                               ("Zhao Min", "aunt", AUNT)])]
    response = api.put("/api/v1/users/u-1", {"birth_date": "2011-05-01", "first_name": "Xiaoming",
                                            "locale": "en", "region": "CN", "contacts": contacts}, format="json")
    assert response.status_code == 200, response.json()
    Contact.objects.update(verified_at=timezone.now())
    Notification.objects.all().delete()  # the verification texts are not what these tests look at
    return flagged(api, text=CHAT_TEXT)


