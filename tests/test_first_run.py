"""What a first-time user meets (issue 12, items 18 and 19): the schema shows in a browser, `/`
leads to the console, and an operator created as the README says sees their product's queue."""
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from conversations.models import Product
from escalation.models import StaffProfile
from tests.conftest import client_for
from tests.support.browser import BrowserTestCase, requires_chromium

# What Chromium sends when a person opens a URL.
BROWSER_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
                  "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")


@pytest.mark.django_db
def test_the_schema_is_text_to_a_browser_with_a_well_formed_header(client):
    response = client.get("/api/schema/", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    # The em dash in the title had Django MIME-encode the whole header ("=?utf-8?q?inline=3B...").
    disposition = response["Content-Disposition"]
    assert disposition.startswith('inline; filename="') and disposition.isascii(), disposition
    assert response.content.startswith(b"openapi: 3")


@pytest.mark.django_db
@pytest.mark.parametrize("accept, content_type", [
    ("application/vnd.oai.openapi", "application/vnd.oai.openapi; charset=utf-8"),
    ("application/json", "application/json"),
])
def test_tools_still_get_the_schema_type_they_ask_for(client, accept, content_type):
    response = client.get("/api/schema/", HTTP_ACCEPT=accept)
    assert response.status_code == 200 and response["Content-Type"] == content_type


@pytest.mark.django_db
def test_the_site_root_leads_to_the_console(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/console/"


def seed(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_demo_operator_sees_the_demo_incident(settings, tmp_path, client):
    """As the README says: send the crisis message with the demo key, log in as the demo operator."""
    output = seed(settings, tmp_path)
    key = output.split("api key: ")[1].split()[0]
    response = client_for(key).post("/api/v1/conversations/c-1/messages", {
        "id": "m-1", "user": "u-1", "role": "user", "text": "I am going to kill myself tonight"}, format="json")
    assert response.status_code == 201 and response.json()["assessment"]["level"] == "explicit"
    hold = [d for d in response.json()["directives"] if d["type"] == "hold_for_operator"]
    incident_id = hold[0]["incident"]
    assert client.login(username="operator", password="operator-demo")
    assert client.get(f"/console/incidents/{incident_id}/").status_code == 200
    assert b'id="no-products"' not in client.get("/console/").content


@pytest.mark.django_db
def test_seed_demo_keeps_a_changed_password_and_says_so(settings, tmp_path, django_user_model):
    seed(settings, tmp_path)
    supervisor = django_user_model.objects.get(username="supervisor")
    supervisor.set_password("my-own-password")
    supervisor.save()
    output = seed(settings, tmp_path)
    supervisor.refresh_from_db()
    assert supervisor.check_password("my-own-password")
    assert "supervisor: supervisor / (changed)" in output and "supervisor-demo" not in output
    assert "login: operator / operator-demo" in output


@pytest.mark.django_db
def test_create_operator_assigns_the_products_given(client):
    for name in ("acme", "globex", "initech"):
        Product.objects.create(name=name)
    out = StringIO()
    call_command("create_operator", "olive", "--password", "long-enough-1", "--product", "acme",
                 "--product", "globex", stdout=out)
    profile = StaffProfile.objects.get(user__username="olive")
    assert sorted(profile.products.values_list("name", flat=True)) == ["acme", "globex"]
    assert "Sees the incidents of: acme, globex" in out.getvalue()
    # Run again without --product (a password change): the products stay.
    call_command("create_operator", "olive", "--password", "long-enough-2", stdout=StringIO())
    assert profile.products.count() == 2


@pytest.mark.django_db
def test_create_operator_refuses_an_unknown_product_and_creates_nobody(django_user_model):
    Product.objects.create(name="acme")
    with pytest.raises(CommandError, match=r"No product named nope \(products: acme\)"):
        call_command("create_operator", "olive", "--password", "long-enough-1", "--product", "acme",
                     "--product", "nope", stdout=StringIO())
    assert not django_user_model.objects.filter(username="olive").exists()


@pytest.mark.django_db
def test_an_operator_without_products_is_told_so_by_the_command_and_the_console(client):
    out = StringIO()
    call_command("create_operator", "olive", "--password", "long-enough-1", stdout=out)
    assert "olive is assigned no product and will see an empty queue" in out.getvalue()
    assert client.login(username="olive", password="long-enough-1")
    page = client.get("/console/").content.decode()
    assert 'id="no-products"' in page and "You are not assigned to any product" in page
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/console/"})
    assert "您尚未被分配任何产品" in client.get("/console/").content.decode()


@pytest.mark.django_db
def test_a_supervisor_is_not_told_about_products(client):
    call_command("create_operator", "sue", "--password", "long-enough-1", "--role", "supervisor", stdout=StringIO())
    assert client.login(username="sue", password="long-enough-1")
    assert b'id="no-products"' not in client.get("/console/").content


@pytest.mark.slow
@requires_chromium
class SchemaInTheBrowser(BrowserTestCase):
    def test_chromium_shows_the_schema_instead_of_downloading_it(self):
        page = self.browser.new_page()
        try:
            response = page.goto(f"{self.live_server_url}/api/schema/")  # a download raises here
            assert response.status == 200
            assert page.locator("body").inner_text().startswith("openapi: 3")
        finally:
            page.close()


def test_the_integration_contract_is_in_the_repository_and_every_link_to_docs_resolves():
    import re
    import subprocess
    from pathlib import Path

    base = Path(__file__).resolve().parent.parent
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=base, check=True,
                             capture_output=True, text=True).stdout.split()
    contract = base / "docs" / "api-v1.md"
    assert contract.is_file() and "Contract of record" in contract.read_text()
    mentions = 0
    for name in tracked:
        path = base / name
        if path.suffix not in {".md", ".py", ".js", ".html"} or not path.is_file() or name.startswith("tests/"):
            continue
        text = path.read_text(errors="replace")
        mentions += text.count("api-v1.md")
        # Every mention names the file where it is: from the repository's root, or relative to the file.
        for match in re.finditer(r"[\w./-]*api-v1\.md", text):
            targets = {(base / match.group(0)).resolve(), (path.parent / match.group(0)).resolve()}
            assert contract.resolve() in targets, f"{name}: {match.group(0)}"
        if path.suffix == ".md":
            for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
                assert (path.parent / link).exists(), f"{name}: broken link {link}"
    assert mentions >= 5
