"""The staff pages in a real browser: headless Chromium against a live daphne and worker."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_staff_log_in_and_the_home_page_shows_the_products_and_health(staff_page):
    page = staff_page.page
    page.wait_for_selector("#health:not([hidden])")
    assert page.locator("article.product").count() == 3
    assert "ready" in page.locator("#health-overall").inner_text()
    staff_page.screenshot("home")
