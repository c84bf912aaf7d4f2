"""Browser tests: Playwright (``playwright.sync_api``) driving Debian's chromium against the
``live_server`` fixture. Never a downloaded browser: without ``/usr/bin/chromium`` the tests
are skipped with the reason (CI installs the package)."""
from __future__ import annotations

from pathlib import Path

import pytest

from crm.testing import CHROMIUM, CHROMIUM_ARGS, watch_page


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if not Path(CHROMIUM).exists():
                item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install chromium "
                                                        "(the browser tests never download a browser)"))


@pytest.fixture(scope="module")  # one browser per module (crm.testing's new_page starts one per test)
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser):  # overrides crm.testing's: pages of this module share one browser
    """``new_page(width, height, locale)`` -> a page in a fresh context; JavaScript errors and
    Content-Security-Policy violations fail the test."""
    contexts, errors = [], []

    def make(width=1280, height=900, locale="en-GB"):
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        watch_page(page, errors)  # JavaScript errors and Content-Security-Policy violations
        page.on("dialog", lambda dialog: dialog.accept())  # the confirmations of actions
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == [], f"JavaScript errors or Content-Security-Policy violations: {errors}"
