"""Debian's Chromium through Playwright, for the live-server browser tests."""
import os
from pathlib import Path

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
TIMEOUT_MS = 10_000

requires_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium; CI installs it)")


def open_browser():
    """Start a headless Chromium; returns it and the function that closes it.

    Playwright's sync API runs an event loop in this thread; the ORM calls a test makes between its
    calls are plain sync code, so Django's async-safety check is lifted until the browser closes."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    expect.set_options(timeout=TIMEOUT_MS)

    def close():
        try:
            browser.close()
            playwright.stop()
        finally:
            if previous is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous

    return browser, close


class BrowserTestCase(StaticLiveServerTestCase):
    """A live server on 127.0.0.1 and one headless Chromium (`self.browser`) for the class."""
    host = "127.0.0.1"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.browser, cls._close_browser = open_browser()

    @classmethod
    def tearDownClass(cls):
        cls._close_browser()
        super().tearDownClass()
