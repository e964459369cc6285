"""Browser tests: Debian's Chromium (scripts/ensure_browser.sh installs it) driven headless by
Python playwright; the whole platform and the portal run as real processes.

Select with ``-m browser``. Without /usr/bin/chromium or the playwright package the tests are
skipped with the reason, unless FUNDGUARD_REQUIRE_BROWSER=1 (then they fail)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.portal_stack import CHROMIUM, CHROMIUM_ARGS, PortalStack


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives Chromium through the portal (slow)")


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} missing: run scripts/ensure_browser.sh"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "python package playwright missing: pip install -e 'services/portal[test]'"
    return None


@pytest.fixture(scope="module")
def portal_server(platform):
    stack = PortalStack(platform).setup().start()
    try:
        yield stack
    finally:
        stack.teardown()


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason:
        if os.environ.get("FUNDGUARD_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
