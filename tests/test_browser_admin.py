"""The staff console in a real browser: headless Chromium logs in, opens the admin home, the
billing dashboard and a customer's page, checks what they show against the ledger, and saves
``docs/screenshots/admin-dashboard.png`` and ``docs/screenshots/admin-customer.png``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Customer
from billing import reports
from billing.models import Tier, UsageEvent
from inference.runtime.product import products

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CUSTOMERS = ["Northside Vets", "Harbour Lab", "Riverside Animal Clinic", "Summit Pet Hospital"]
RATES = [Decimal("3.00"), Decimal("2.50"), Decimal("4.00")]


def seed_ledger() -> list[Customer]:
    """A year of calls of every product by a few customers (fixed seed): busier lately."""
    rng = random.Random(19)
    starter = Tier.objects.get(code="starter")
    customers = [Customer.objects.create(name=name) for name in CUSTOMERS]
    for customer in customers[1::2]:
        customer.tier = starter
        customer.save(update_fields=["tier"])
    now = timezone.now()
    rows = []
    for days_ago in range(365):
        day = now - timedelta(days=days_ago)
        for p, config in enumerate(products()):
            for c, customer in enumerate(customers):
                busy = 3 if days_ago < 30 else 1
                for _ in range(rng.randint(0, busy + c + (2 - p))):
                    billable = rng.random() < 0.8
                    rows.append(
                        UsageEvent(
                            customer=customer,
                            product=config.product,
                            endpoint=f"/{config.url_prefix}predict",
                            call_type="single",
                            billable=billable,
                            reason="billed" if billable else "free",
                            tier_code=customer.tier.code,
                            rate=RATES[p % len(RATES)] if billable else None,
                            created_at=min(day - timedelta(minutes=rng.randint(0, 600)), now),
                        )
                    )
    UsageEvent.objects.bulk_create(rows)
    return customers


def test_staff_see_the_dashboard_and_a_customers_month_at_a_glance(staff_page):
    customers = seed_ledger()
    staff_page.user.is_superuser = True
    staff_page.user.save(update_fields=["is_superuser"])
    page = staff_page.page

    page.goto("/admin/")
    page.get_by_role("link", name="Billing dashboard").click()
    page.wait_for_selector("#top-customers")
    assert page.locator("svg.bar-chart").count() == 2
    last_day = timezone.now().astimezone(UTC).date()
    expected_total = sum(n for _, n in reports.daily_billable_calls(last_day, days=30))
    heading = page.locator("#usage-per-day h2").inner_text()
    assert heading.endswith(f": {expected_total}")
    assert page.locator("table.top-customers").count() == len(products())
    staff_page.screenshot("admin-dashboard")

    # In the admin's dark theme the charts' text takes the theme's light quiet colour.
    page.emulate_media(color_scheme="dark")
    fill = page.locator("#daily-chart svg text").first.evaluate("t => getComputedStyle(t).fill")
    assert fill == "rgb(208, 208, 208)"
    page.emulate_media(color_scheme="light")

    top = page.locator("table.top-customers").first.locator("tbody th a").first
    name = top.inner_text()
    top.click()
    page.wait_for_selector("#this-month")
    customer = next(c for c in customers if c.name == name)
    month = reports.customer_month(customer.pk, reports.month_of(datetime.now(UTC)))
    total = page.locator("#this-month-total")
    assert total.locator("td.calls").inner_text() == str(month.total.calls)
    assert total.locator("td.billable").inner_text() == str(month.total.billable)
    assert total.locator("td.cost").inner_text() == f"${month.total.cost:,.2f}"
    staff_page.screenshot("admin-customer")

    page.locator("#this-month-events").click()
    page.wait_for_selector("#result_list")
    assert name in page.locator("#changelist-filter").inner_text()
