"""The console's pages with Django's test client: who may see what, the incident detail JSON,
transcript paging, and the Chinese UI (translations complete, compiled .mo up to date)."""
import ast
import gettext
import json
import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.translation.template import templatize

from conversations.models import Product
from escalation import console

from .helpers import PASSWORD, flagged, operator_of, supervisor

TEMPLATES = Path(settings.BASE_DIR) / "templates"
LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
PHONE = "+8613800138000"


def console_templates():
    """The console's own templates: the page, its base and the sign-in pages."""
    return [TEMPLATES / "base.html", *sorted((TEMPLATES / "registration").glob("*.html")),
            *sorted((TEMPLATES / "console").glob("*.html"))]


def logged_in(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def page_json(html, element_id):
    """The JSON of a <script type="application/json" id=...> element of a rendered page."""
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S) or \
        re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert match, f"no #{element_id} in the page"
    return json.loads(match.group(1))


@pytest.mark.django_db
class TestAccess:
    def test_anonymous_is_sent_to_the_login_page(self, client, api):
        incident = flagged(api)
        for url in ("/console/", f"/console/incidents/{incident.pk}/"):
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith("/accounts/login/"), url

    def test_a_user_who_is_not_staff_is_sent_to_the_login_page(self, client, django_user_model):
        django_user_model.objects.create_user("visitor", password=PASSWORD)
        client.login(username="visitor", password=PASSWORD)
        response = client.get("/console/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    def test_the_login_page_renders(self, client):
        response = client.get("/accounts/login/?next=/console/")
        assert response.status_code == 200
        assert 'name="username"' in response.content.decode()

    def test_an_incident_of_a_product_the_operator_is_not_assigned_to_is_404(self, client, api, other_api, product):
        other_api.post("/api/v1/conversations/c-b/messages",
                       {"id": "m", "user": "u", "role": "user", "text": "x", "flag": {"level": "explicit"}},
                       format="json")
        foreign = Product.objects.get(name="companion-b").incidents.get()
        mine = flagged(api)
        logged_in(client, operator_of(product))
        assert client.get(f"/console/incidents/{foreign.pk}/").status_code == 404
        assert client.get(f"/console/incidents/{uuid.uuid4()}/").status_code == 404
        assert client.get(f"/console/incidents/{mine.pk}/").status_code == 200
        # A supervisor sees every product.
        client.logout()
        logged_in(client, supervisor())
        assert client.get(f"/console/incidents/{foreign.pk}/").status_code == 200


@pytest.mark.django_db
class TestQueuePage:
    def test_the_page_loads_the_module_and_its_data(self, client, product):
        logged_in(client, operator_of(product))
        response = client.get("/console/")
        html = response.content.decode()
        assert response.status_code == 200
        assert '<script type="module" src="/static/console/console.js"></script>' in html
        assert page_json(html, "console-outcomes") == ["safe", "contact_notified", "emergency_services",
                                                        "false_alarm", "other"]
        assert page_json(html, "console-supervisor") is False
        assert page_json(html, "console-username") == "olive"
        strings = page_json(html, "console-strings")
        assert strings["errors"]["already_claimed"] == "Someone else has already taken over this conversation."
        assert set(strings["outcomes"]) == set(page_json(html, "console-outcomes"))
        assert 'action="/i18n/setlang/"' in html
        assert " on" + "click=" not in html.lower()  # no inline event handlers

    def test_a_supervisor_is_told_so(self, client):
        logged_in(client, supervisor())
        assert page_json(client.get("/console/").content.decode(), "console-supervisor") is True


@pytest.mark.django_db
class TestIncidentDetail:
    def put_contacts(self, api):
        response = api.put("/api/v1/users/u-1", {
            "age_group": "minor", "region": "CN", "locale": "zh-CN",
            "contacts": [{"name": "Mum", "relationship": "mother", "kind": "guardian", "phone": PHONE}],
        }, format="json")
        assert response.status_code in (200, 201), response.content

    def test_operators_see_masked_phones_and_supervisors_full_ones(self, client, api, product):
        self.put_contacts(api)
        incident = flagged(api, user="u-1")
        logged_in(client, operator_of(product))
        body = client.get(f"/console/incidents/{incident.pk}/").json()
        assert body["contacts"][0]["phone"] == "+86138****8000"
        assert PHONE not in json.dumps(body)
        assert body["user"] == {"id": "u-1", "age_group": "minor", "region": "CN", "locale": "zh-CN",
                                "dependence_level": "none", "registration": body["user"]["registration"],
                                "training_consent": False}
        client.logout()
        logged_in(client, supervisor())
        assert client.get(f"/console/incidents/{incident.pk}/").json()["contacts"][0]["phone"] == PHONE

    def test_the_detail_has_what_the_pane_renders(self, client, api, product):
        incident = flagged(api, text="I can't go on")
        logged_in(client, operator_of(product))
        body = client.get(f"/console/incidents/{incident.pk}/").json()
        assert body["incident"]["id"] == str(incident.pk) and body["incident"]["level"] == "explicit"
        message = body["transcript"]["messages"][0]
        assert {"id", "role", "text", "sent_at", "level", "signals", "operator"} <= set(message)
        assert message["text"] == "I can't go on"
        assert [event["kind"] for event in body["timeline"]][:1] == ["opened"]
        assert isinstance(body["templates"], list) and isinstance(body["hotlines"], list)

    def test_the_transcript_pages_back_with_before(self, client, api, product, monkeypatch):
        monkeypatch.setattr(console, "TRANSCRIPT_PAGE", 2)
        incident = flagged(api, message_id="m-1", text="one")
        for n, word in enumerate(["two", "three", "four", "five"], start=2):
            response = api.post("/api/v1/conversations/c-1/messages",
                                {"id": f"m-{n}", "user": "u-1", "role": "user", "text": word}, format="json")
            assert response.status_code == 201
        logged_in(client, operator_of(product))
        url = f"/console/incidents/{incident.pk}/"

        page = client.get(url).json()["transcript"]
        assert [m["text"] for m in page["messages"]] == ["four", "five"]  # the latest, oldest first
        assert page["before"]
        page = client.get(url, {"before": page["before"]}).json()["transcript"]
        assert [m["text"] for m in page["messages"]] == ["two", "three"]
        page = client.get(url, {"before": page["before"]}).json()["transcript"]
        assert [m["text"] for m in page["messages"]] == ["one"]
        assert page["before"] is None
        # A cursor that is not a number is refused (tests/test_crafted_input.py: `²` too).
        response = client.get(url, {"before": "x"})
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


@pytest.mark.django_db
class TestChinese:
    def test_accept_language_zh_cn_serves_the_chinese_ui(self, client, product):
        logged_in(client, operator_of(product))
        html = client.get("/console/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
        assert '<html lang="zh-hans">' in html
        assert "队列" in html and "接管" in html
        strings = page_json(html, "console-strings")  # still valid JSON with Chinese strings
        assert strings["live"] == "已连接"
        assert strings["errors"]["already_claimed"] == "其他人已经接管了此对话。"

    def test_the_language_switch_sticks(self, client):
        assert "用户名" not in client.get("/accounts/login/").content.decode()
        response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/accounts/login/"})
        assert response.status_code == 302 and response["Location"] == "/accounts/login/"
        html = client.get("/accounts/login/").content.decode()
        assert "用户名" in html and "登录" in html
        client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
        assert "Username" in client.get("/accounts/login/").content.decode()


def catalogue():
    with (LOCALE / "django.mo").open("rb") as mo:
        return gettext.GNUTranslations(mo)


def po_entries():
    """(msgid, msgstr) of every entry of django.po but the header (a small parser: no plurals here)."""
    entries, current, field = [], {}, None
    for line in (LOCALE / "django.po").read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("msgid "):
            current, field = {"msgid": json.loads(line[6:]), "msgstr": ""}, "msgid"
        elif line.startswith("msgstr "):
            current["msgstr"], field = json.loads(line[7:]), "msgstr"
        elif line.startswith('"') and field:
            current[field] += json.loads(line)
        elif not line.strip() and current:
            if current["msgid"]:
                entries.append((current["msgid"], current["msgstr"]))
            current, field = {}, None
    return entries


def test_every_template_string_has_a_chinese_translation():
    translations = catalogue()
    missing, found = [], set()
    for path in console_templates():
        source = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        for literal in re.findall(r"""gettext\((u?(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"))\)""", source):
            msgid = ast.literal_eval(literal)
            found.add(msgid)
            if translations.gettext(msgid) == msgid and msgid not in ("AI",):
                missing.append(f"{path.relative_to(TEMPLATES)}: {msgid}")
    assert len(found) > 100  # the extraction works
    assert not missing, "not translated (run makemessages, translate, compilemessages):\n" + "\n".join(missing)


def test_the_compiled_mo_matches_the_po():
    translations, entries = catalogue(), po_entries()
    assert len(entries) > 50
    stale = [msgid for msgid, msgstr in entries if not msgstr or translations.gettext(msgid) != msgstr]
    assert not stale, f"django.mo is out of date or untranslated (compilemessages): {stale}"


@pytest.mark.django_db
def test_the_roster_panel_and_the_reports_link_for_supervisors_only(client):
    from escalation.roles import create_staff

    create_staff("sue", "long-enough-1", "supervisor")
    create_staff("olive", "long-enough-1", "operator")
    client.login(username="sue", password="long-enough-1")
    page = client.get("/console/").content.decode()
    assert 'id="oncall-list"' in page and 'href="/console/reports/"' in page
    client.login(username="olive", password="long-enough-1")
    page = client.get("/console/").content.decode()
    assert 'id="oncall-list"' in page and 'href="/console/reports/"' not in page


@pytest.mark.django_db
def test_the_demo_chat_exists_only_when_demo_is_on(client, settings, tmp_path):
    settings.DEMO, settings.VAR_DIR = False, tmp_path
    assert client.get("/demo/").status_code == 404
    settings.DEMO = True
    (tmp_path / "demo_api_key").write_text("ek_local_demo_key")
    page = client.get("/demo/")
    assert page.status_code == 200 and b"ek_local_demo_key" in page.content
