"""Shared set-up for console tests: staff with roles, and incidents made through the real API."""
from escalation.models import Incident, StaffProfile
from escalation.roles import create_staff

PASSWORD = "long-enough-1"


def operator_of(product, username="olive"):
    user = create_staff(username, PASSWORD, "operator")
    StaffProfile.objects.get_or_create(user=user)[0].products.add(product)
    return user


def supervisor(username="sue"):
    return create_staff(username, PASSWORD, "supervisor")


def flagged(api, conversation="c-1", level="explicit", user="u-1", message_id="m-1", text="x") -> Incident:
    response = api.post(f"/api/v1/conversations/{conversation}/messages",
                        {"id": message_id, "user": user, "role": "user", "text": text, "flag": {"level": level}},
                        format="json")
    assert response.status_code == 201, response.json()
    return Incident.objects.exclude(status="resolved").get(
        conversation__external_id=conversation, conversation__product__name="companion-a")
