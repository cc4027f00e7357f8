"""What a first-time user meets (issue 12, items 18 and 19): the schema shows in a browser, `/`
leads to the console, and an operator created as the README says sees their product's queue."""
from io import StringIO

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.core.management import CommandError, call_command

from tests.support.browser import open_browser, requires_chromium

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


@pytest.mark.slow
@requires_chromium
class SchemaInTheBrowser(StaticLiveServerTestCase):
    host = "127.0.0.1"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.browser, cls._close_browser = open_browser()

    @classmethod
    def tearDownClass(cls):
        cls._close_browser()
        super().tearDownClass()

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
        # Every mention names the file where it is: docs/api-v1.md, or a relative link from docs/.
        for match in re.finditer(r"[\w./-]*api-v1\.md", text):
            target = (path.parent / match.group(0)) if name.startswith("docs/") else base / match.group(0)
            assert target.resolve() == contract.resolve(), f"{name}: {match.group(0)}"
        if path.suffix == ".md":
            for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
                assert (path.parent / link).exists(), f"{name}: broken link {link}"
    assert mentions >= 5
