"""Browser tests' harness: Playwright driving Debian's Chromium against a live platform.

``staff_page`` gives a test a logged-in Playwright ``Page`` on a live daphne with a real
Celery worker (the session's ``platform_stack``): a staff user is created in the test
database, a fresh browser context logs in through ``/login/``.  Chromium is Debian's
(``/usr/bin/chromium``, headless); ``playwright install`` is never needed.  Without it the
tests skip saying how to install it, except in CI (``CI=true``), where they fail (``.ci/run``
installs it).

Playwright's sync API runs an event loop in the test's thread, which Django's ORM would take
for async code; the harness allows the ORM there (``DJANGO_ALLOW_ASYNC_UNSAFE``), as
pytest-playwright users do: the tests stay plain sequential code.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.services import IN_CI

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
INSTALL_HINT = "install it with: apt-get update && apt-get install -y chromium"
#: Screenshots are taken on every run; they replace the committed ones in docs/screenshots/
#: only with UPDATE_SCREENSHOTS=1 (``make screenshots``), so ``make test`` leaves the checkout
#: as it found it.
DOCS_SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
SCREENSHOTS = (
    DOCS_SCREENSHOTS
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "platform-screenshots"
)
STAFF_USERNAME = "browser-staff"
STAFF_PASSWORD = "browser-staff-password"
VIEWPORT = {"width": 1280, "height": 900}
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


@dataclass
class StaffBrowser:
    """A logged-in staff page on the live platform."""

    page: Any  # playwright.sync_api.Page
    base_url: str
    user: Any
    stack: Any

    def url(self, path: str) -> str:
        return self.base_url + path

    def screenshot(self, name: str) -> Path:
        """Save the whole page as ``<SCREENSHOTS>/<name>.png``."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


class _QuickPBKDF2(PBKDF2PasswordHasher):
    iterations = 1000


def server_password_hash(password: str) -> str:
    """A hash the servers can check: they run the platform's settings (PBKDF2), not the
    test process's fast MD5 hasher; few iterations, since it protects a test password."""
    return _QuickPBKDF2().encode(password, _QuickPBKDF2().salt())


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium per test module (contexts keep tests apart); the ORM is allowed
    in the test thread only while it runs, so other modules keep Django's async check."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"CI needs Chromium at {CHROMIUM}: {INSTALL_HINT}")
        pytest.skip(f"no Chromium at {CHROMIUM}: {INSTALL_HINT}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            raise
        pytest.skip("Playwright is not installed: .venv/bin/pip install -r requirements-dev.txt")
    before = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            yield browser
            browser.close()
    finally:
        if before is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = before


@pytest.fixture
def staff_page(chromium, platform_stack, django_user_model) -> Iterator[StaffBrowser]:
    """A fresh browser context, logged in as a new staff user through the login page.

    Needs ``pytest.mark.django_db(transaction=True)`` on the test: the servers are other
    processes and see only committed rows.
    """
    user = django_user_model.objects.create_user(STAFF_USERNAME, is_staff=True)
    user.password = server_password_hash(STAFF_PASSWORD)
    user.save(update_fields=["password"])
    context = chromium.new_context(base_url=platform_stack.base_url, viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto("/login/")
    page.get_by_label("Username").fill(STAFF_USERNAME)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{platform_stack.base_url}/")
    try:
        yield StaffBrowser(page, platform_stack.base_url, user, platform_stack)
    finally:
        context.close()
