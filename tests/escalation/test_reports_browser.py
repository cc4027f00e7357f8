"""The reports page in a real browser (Debian's Chromium through Playwright): every chart is drawn."""
import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from conversations.models import ApiKey, Hotline, Product
from escalation import takeover
from tests.conftest import client_for
from tests.support.browser import BrowserTestCase, requires_chromium

from .helpers import flagged, operator_of, supervisor

CHARTS = ("incidents", "time-to-claim", "notifications", "takeovers", "referrals", "age-structure", "reminders")

pytestmark = [pytest.mark.slow, requires_chromium]

# Per chart: its Chart.js instance's data total, and how many of its canvas pixels are painted.
DRAWN = """() => Object.fromEntries(Array.from(document.querySelectorAll('canvas')).map(canvas => {
  const chart = window.Chart.getChart(canvas);
  const total = chart ? chart.data.datasets.reduce((sum, set) =>
      sum + set.data.reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0), 0) : -1;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return [canvas.id.replace('chart-', ''), {total, painted, width: canvas.width}];
}))"""


class ReportsInTheBrowser(BrowserTestCase):
    def test_the_reports_page_draws_every_chart(self):
        product = Product.objects.create(name="companion-a")
        # Another live-server test may have flushed the seeded hotlines: the referral count needs one.
        Hotline.objects.get_or_create(region="CN", name="Psychological assistance hotline", defaults={"phone": "12356"})
        Hotline.objects.get_or_create(region="US", name="988 Lifeline", defaults={"phone": "988"})
        api = client_for(ApiKey.issue(product)[1])
        api.put("/api/v1/users/u-1", {"age_group": "minor", "region": "CN", "contacts": [
            {"name": "Mum", "kind": "guardian", "phone": "+8613800138000"}]}, format="json")
        olive = operator_of(product)
        one = flagged(api)
        takeover.claim(olive, one.pk)
        takeover.notify_contacts(olive, one.pk)
        takeover.resolve(olive, one.pk, "safe")
        flagged(api, conversation="c-2", user="u-2", level="high_risk")

        client = Client()
        client.force_login(supervisor())
        context = self.browser.new_context()
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": self.live_server_url,
                              "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            page.goto(f"{self.live_server_url}/console/reports/")
            expect(page.locator("#reports")).to_have_attribute("data-loaded", "1")
            for name in CHARTS:
                expect(page.locator(f'section[data-report="{name}"]')).to_have_attribute("data-drawn", "1")
            drawn = page.evaluate(DRAWN)
            assert set(drawn) == set(CHARTS)
            for name in CHARTS:
                assert drawn[name]["width"] > 0 and drawn[name]["painted"] > 500, (name, drawn[name])
            assert drawn["incidents"]["total"] == 2 and drawn["age-structure"]["total"] == 2
            assert drawn["referrals"]["total"] == 2
            assert page.locator('a.csv[data-csv="incidents"]').get_attribute("href").startswith(
                "/console/reports/incidents.csv?")

            page.select_option("select[name=product]", label="companion-a")
            page.get_by_role("button", name="Show").click()
            expect(page).to_have_url(re.compile(rf"/console/reports/\?product={product.pk}&from="))
            expect(page.locator('a.csv[data-csv="incidents"]')).to_have_attribute(
                "href", re.compile(rf"incidents\.csv\?product={product.pk}&"))
            expect(page.locator("#reports-status")).to_have_text("")
            assert not errors, errors
        finally:
            context.close()
