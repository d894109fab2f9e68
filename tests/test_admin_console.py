"""The staff console in admin: the billing dashboard (usage per day and product, revenue per
month from stored rates, top customers per product) and this month at a glance on a
customer's page.  Events are seeded straight into the ledger at chosen moments, with the
rates they were billed at, so every number below is known in advance."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import escape

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Customer
from billing import reports
from billing.charts import Series, stacked_bar_chart_svg
from billing.models import Price, Tier, UsageEvent
from inference.runtime.product import products

pytestmark = pytest.mark.django_db


def url(name: str, *args: object) -> str:
    return reverse(f"admin:{name}", args=args)


@pytest.fixture
def first():
    """The first declared product (its config: ``product`` and ``verbose_name``)."""
    return products()[0]


@pytest.fixture
def second():
    return products()[1]


def event(
    customer: Customer,
    config,
    when: datetime,
    *,
    rate: str | None = "3.00",
    call_type: str = "single",
) -> UsageEvent:
    """One decided call at ``when``: billable at ``rate``, free when ``rate`` is None."""
    billable = rate is not None
    return UsageEvent.objects.create(
        customer=customer,
        product=config.product,
        endpoint=f"/{config.url_prefix}predict",
        call_type=call_type,
        billable=billable,
        reason="billed" if billable else "free",
        tier_code=customer.tier.code,
        rate=Decimal(rate) if billable else None,
        created_at=when,
    )


def today() -> date:
    return timezone.now().astimezone(UTC).date()


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def this_month_moment() -> datetime:
    """A moment earlier this month (UTC), or now on the 1st before 01:00."""
    start, _ = reports.month_range(reports.month_of(timezone.now()))
    return max(start, timezone.now() - timedelta(hours=1))


def last_month_moment() -> datetime:
    start, _ = reports.month_range(reports.month_of(timezone.now()))
    return start - timedelta(days=2)


@pytest.fixture
def clinic() -> Customer:
    return Customer.objects.create(name="Northside Vets")


@pytest.fixture
def lab() -> Customer:
    return Customer.objects.create(name="Harbour Lab", tier=Tier.objects.get(code="starter"))


# --- usage per day ------------------------------------------------------------------------


def test_usage_per_day_counts_billable_calls_per_product_and_utc_day(clinic, first, second):
    event(clinic, first, datetime(2026, 3, 9, 23, 59, tzinfo=UTC))
    event(clinic, first, datetime(2026, 3, 10, 0, 0, tzinfo=UTC))
    event(clinic, first, datetime(2026, 3, 10, 18, 0, tzinfo=UTC))
    event(clinic, first, datetime(2026, 3, 10, 18, 0, tzinfo=UTC), rate=None)  # free
    event(clinic, second, datetime(2026, 3, 8, 1, 0, tzinfo=UTC), call_type="session")
    event(clinic, second, datetime(2026, 3, 7, 23, 0, tzinfo=UTC))  # before the range
    event(clinic, first, datetime(2026, 3, 11, 0, 0, tzinfo=UTC))  # after the range

    days, series = reports.daily_usage_by_product(date(2026, 3, 10), days=3)

    assert days == [date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 10)]
    by_product = {s.product: s for s in series}
    assert [s.product for s in series] == [c.product for c in products()]
    assert by_product[first.product].values == [0, 1, 2]
    assert by_product[first.product].calls == 4  # the free call counts as a call
    assert by_product[second.product].values == [1, 0, 0]
    assert by_product[first.product].label == str(first.verbose_name)
    assert reports.daily_billable_calls(date(2026, 3, 10), days=3) == [
        (date(2026, 3, 8), 1),
        (date(2026, 3, 9), 1),
        (date(2026, 3, 10), 2),
    ]


def test_a_product_no_longer_declared_keeps_its_history_in_the_series(clinic, first):
    gone = UsageEvent.objects.create(
        customer=clinic,
        product="retired",
        endpoint="/retired/v1/predict",
        call_type="single",
        billable=True,
        reason="billed",
        tier_code="paygo",
        rate=Decimal("1.00"),
        created_at=at(today()),
    )

    _, series = reports.daily_usage_by_product(today(), days=1)

    assert [(s.product, s.label, s.values) for s in series][-1] == (gone.product, "retired", [1])


def test_the_dashboard_charts_each_products_calls_per_day(admin_client, clinic, lab, first, second):
    event(clinic, first, at(today()))
    event(lab, first, at(today()))
    event(clinic, second, at(today()))
    event(clinic, first, at(today() - timedelta(days=1)))
    event(clinic, first, at(today() - timedelta(days=1)), rate=None)
    event(clinic, second, at(today() - timedelta(days=29), hour=0))
    event(clinic, second, at(today() - timedelta(days=30), hour=23))  # 31 days ago: left out

    response = admin_client.get(url("billing_usageevent_dashboard"))

    page = response.content.decode()
    chart = page[page.index('id="daily-chart"') : page.index('id="daily-per-product"')]
    a, b = escape(str(first.verbose_name)), escape(str(second.verbose_name))
    assert f"<title>{today():%m-%d}, {a}: 2</title>" in chart
    assert f"<title>{today():%m-%d}, {b}: 1</title>" in chart
    assert f"<title>{today():%m-%d}: 3</title>" in chart  # the bar's total
    assert f"<title>{today() - timedelta(days=1):%m-%d}, {a}: 1</title>" in chart
    assert f"<title>{today() - timedelta(days=29):%m-%d}, {b}: 1</title>" in chart
    assert f"{today() - timedelta(days=30):%m-%d}" not in chart
    assert chart.count("<rect") == 4 + len(products())  # segments, then one swatch each
    assert response.context["daily_total"] == 5
    table = page[page.index('id="daily-per-product"') :]
    assert re.search(
        rf'{re.escape(a)}</th>\s*<td class="calls">4</td>\s*<td class="billable">3</td>'
        r'\s*<td class="free">1</td>',
        table,
    )


# --- revenue per month --------------------------------------------------------------------


def test_revenue_per_month_sums_the_stored_rates_per_product_as_decimal(clinic, lab, first, second):
    event(clinic, first, datetime(2026, 1, 31, 23, 59, tzinfo=UTC), rate="3.00")
    event(lab, first, datetime(2026, 2, 1, 0, 0, tzinfo=UTC), rate="2.50")
    event(clinic, second, datetime(2026, 2, 10, tzinfo=UTC), rate="4.10", call_type="session")
    event(clinic, second, datetime(2026, 2, 11, tzinfo=UTC), rate=None)  # free
    event(clinic, first, datetime(2025, 12, 31, 23, 59, tzinfo=UTC))  # before the range

    months, series = reports.monthly_revenue_by_product(date(2026, 3, 1), months=3)

    assert months == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    by_product = {s.product: s for s in series}
    assert by_product[first.product].values == [Decimal("3.00"), Decimal("2.50"), Decimal("0")]
    assert by_product[second.product].values == [Decimal("0"), Decimal("4.10"), Decimal("0")]
    assert (by_product[first.product].calls, by_product[second.product].calls) == (2, 1)
    assert all(isinstance(v, Decimal) for s in series for v in s.values)
    assert reports.monthly_revenue(date(2026, 3, 1), months=3)[1] == (
        date(2026, 2, 1),
        Decimal("6.60"),
    )


def test_revenue_is_what_was_billed_even_after_the_price_changes(admin_client, clinic, first):
    event(clinic, first, this_month_moment(), rate="3.00")
    event(clinic, first, last_month_moment(), rate="2.75")
    Price.objects.filter(tier=clinic.tier).update(rate=Decimal("99.00"))

    response = admin_client.get(url("billing_usageevent_dashboard"))

    assert response.context["revenue_total"] == Decimal("5.75")
    page = response.content.decode()
    assert "Billed revenue per month, last 12 months (UTC): $5.75" in page
    label = escape(str(first.verbose_name))
    this_month = reports.month_of(timezone.now())
    assert f"<title>{this_month:%b %y}, {label}: $3.00</title>" in page
    assert re.search(
        rf'{re.escape(label)}</th>\s*<td class="billable">2</td>\s*<td class="revenue">\$5.75</td>',
        page[page.index('id="revenue-per-product"') :],
    )


# --- top customers per product ------------------------------------------------------------


def test_top_customers_are_ranked_per_product_by_revenue_this_month(first, second):
    now = this_month_moment()
    shops = [Customer.objects.create(name=f"Shop {n}") for n in range(7)]
    for n, shop in enumerate(shops):
        for _ in range(n + 1):
            event(shop, first, now, rate="1.00")  # shop n: n + 1 calls, n + 1 dollars
    event(shops[0], first, now, rate="9.00")  # shop 0: $10.00 over 2 calls, the top
    event(shops[1], first, now, rate=None)  # a free call counts as a call, earns nothing
    event(shops[6], first, last_month_moment(), rate="50.00")  # last month: not counted
    event(shops[2], second, now, rate="0.50")

    tops = {top.product: top for top in reports.top_customers(reports.month_of(now), limit=5)}

    ranked = [(c.customer, c.calls, c.billable, c.revenue) for c in tops[first.product].customers]
    assert ranked == [
        ("Shop 0", 2, 2, Decimal("10.00")),
        ("Shop 6", 7, 7, Decimal("7.00")),
        ("Shop 5", 6, 6, Decimal("6.00")),
        ("Shop 4", 5, 5, Decimal("5.00")),
        ("Shop 3", 4, 4, Decimal("4.00")),
    ]
    assert [(c.customer, c.revenue) for c in tops[second.product].customers] == [
        ("Shop 2", Decimal("0.50"))
    ]
    assert all(
        not top.customers
        for name, top in tops.items()
        if name
        not in {
            first.product,
            second.product,
        }
    )


def test_free_products_rank_customers_by_billable_then_all_calls(first):
    now = this_month_moment()
    busy, billed = Customer.objects.create(name="Busy"), Customer.objects.create(name="Billed")
    for _ in range(3):
        event(busy, first, now, rate=None)
    event(billed, first, now, rate="0.00")

    [top] = [t for t in reports.top_customers(reports.month_of(now)) if t.product == first.product]

    assert [(c.customer, c.calls, c.billable) for c in top.customers] == [
        ("Billed", 1, 1),
        ("Busy", 3, 0),
    ]


def test_the_dashboard_lists_top_customers_linked_to_their_pages(admin_client, clinic, lab, first):
    event(clinic, first, this_month_moment(), rate="3.00")
    event(clinic, first, this_month_moment(), rate=None)
    event(lab, first, this_month_moment(), rate="2.50")

    page = admin_client.get(url("billing_usageevent_dashboard")).content.decode()

    tables = page[page.index('id="top-customers"') :]
    table = tables[: tables.index("</table>")]
    assert f"<caption>{escape(str(first.verbose_name))}</caption>" in table
    rows = re.findall(
        r'<a href="([^"]+)">([^<]+)</a></th>\s*<td class="calls">(\d+)</td>\s*'
        r'<td class="billable">(\d+)</td>\s*<td class="revenue">\$([\d.,]+)</td>',
        table,
    )
    assert rows == [
        (url("accounts_customer_change", clinic.pk), "Northside Vets", "2", "1", "3.00"),
        (url("accounts_customer_change", lab.pk), "Harbour Lab", "1", "1", "2.50"),
    ]
    assert tables.count("No calls this month.") == len(products()) - 1


def test_customer_names_are_escaped_on_the_dashboard(admin_client, first):
    sly = Customer.objects.create(name='<script>alert("x")</script>')
    event(sly, first, this_month_moment())

    page = admin_client.get(url("billing_usageevent_dashboard")).content.decode()

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page


# --- one page, a fixed number of queries, nothing fetched ---------------------------------


def seed_many(first, second, customers: int, per_day: int) -> None:
    """``customers`` customers calling both products ``per_day`` times a day for 40 days."""
    rows = []
    for n in range(customers):
        customer = Customer.objects.create(name=f"Customer {n}")
        for day in range(40):
            when = at(today() - timedelta(days=day))
            for config in (first, second):
                for _ in range(per_day):
                    rows.append(
                        UsageEvent(
                            customer=customer,
                            product=config.product,
                            endpoint="/x",
                            call_type="single",
                            billable=True,
                            reason="billed",
                            tier_code="paygo",
                            rate=Decimal("1.25"),
                            created_at=when,
                        )
                    )
    UsageEvent.objects.bulk_create(rows)


# Session and user, then: Stripe counts and overdue customers, usage per day, revenue per
# month, top customers.
DASHBOARD_QUERIES = 2 + 2 + 3


def test_the_dashboard_takes_the_same_few_queries_however_many_events(
    admin_client, django_assert_num_queries, first, second
):
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert admin_client.get(url("billing_usageevent_dashboard")).status_code == 200

    seed_many(first, second, customers=8, per_day=3)  # 1,920 events

    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = admin_client.get(url("billing_usageevent_dashboard"))
    assert response.context["daily_total"] == 8 * 30 * 2 * 3


def test_the_dashboard_is_offline_svg_drawn_in_the_admins_theme_colours(admin_client, first):
    event(Customer.objects.create(name="A"), first, this_month_moment())

    page = admin_client.get(url("billing_usageevent_dashboard")).content.decode()

    main = page[page.index('id="content-main"') :]
    assert "<script" not in main
    assert not re.search(r'(src|href)="(https?:)?//', page)
    charts = re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart".*?</svg>', page)
    assert len(charts) == 2
    for chart in charts:
        assert "var(--body-quiet-color" in chart
        assert "var(--hairline-color" in chart
        assert "http" not in chart.replace("http://www.w3.org/2000/svg", "")


# --- a customer's page ----------------------------------------------------------------------


@pytest.fixture
def clinic_month(clinic, lab, first, second) -> None:
    """This month the clinic bills 2 calls of the first product ($3.00 + $2.75) and 1 of the
    second ($4.00) and makes 1 free call of the first; its older and the lab's calls are not
    its month."""
    now = this_month_moment()
    event(clinic, first, now, rate="3.00")
    event(clinic, first, now, rate="2.75")
    event(clinic, first, now, rate=None)
    event(clinic, second, now, rate="4.00", call_type="session")
    event(clinic, first, last_month_moment(), rate="3.00")
    event(lab, first, now, rate="2.50")


def test_a_customers_month_counts_calls_billable_calls_and_cost_per_product(
    clinic, clinic_month, first, second
):
    month = reports.customer_month(clinic.pk, reports.month_of(timezone.now()))

    rows = {row.product: row for row in month.products}
    assert [row.product for row in month.products] == [c.product for c in products()]
    assert (rows[first.product].calls, rows[first.product].billable) == (3, 2)
    assert (rows[first.product].free, rows[first.product].cost) == (1, Decimal("5.75"))
    assert (rows[second.product].calls, rows[second.product].cost) == (1, Decimal("4.00"))
    assert (month.total.calls, month.total.billable, month.total.cost) == (4, 3, Decimal("9.75"))
    assert month.tiers == ["paygo"]


def test_the_customer_page_shows_this_months_usage_and_cost_at_a_glance(
    admin_client, clinic, clinic_month, first, second
):
    page = admin_client.get(url("accounts_customer_change", clinic.pk)).content.decode()

    glance = page[
        page.index('id="this-month"') : page.index("</table>", page.index('id="this-month"'))
    ]
    assert f"This month ({timezone.now():%B %Y}, UTC)" in glance
    assert re.search(r"Tier: <strong>Pay-as-you-go</strong> \(paygo\)", glance)

    def row(label: str) -> tuple[str, ...]:
        found = re.search(
            rf'{re.escape(escape(label))}</th>\s*<td class="calls">(\d+)</td>\s*'
            r'<td class="billable">(\d+)</td>\s*<td class="free">(\d+)</td>\s*'
            r'<td class="cost">\$([\d.,]+)</td>',
            glance,
        )
        return found.groups()

    assert row(str(first.verbose_name)) == ("3", "2", "1", "5.75")
    assert row(str(second.verbose_name)) == ("1", "1", "0", "4.00")
    assert row("Total") == ("4", "3", "1", "9.75")
    assert len(re.findall(r'<tr class="product-row">', glance)) == len(products())


def test_the_customer_page_links_to_its_usage_events_this_month(admin_client, clinic, clinic_month):
    page = admin_client.get(url("accounts_customer_change", clinic.pk)).content.decode()

    link = re.search(r'<a href="([^"]+)" id="this-month-events">', page).group(1)
    month = reports.month_of(timezone.now())
    assert link == (
        f"{url('billing_usageevent_changelist')}?customer__id__exact={clinic.pk}"
        f"&amp;month={month:%Y-%m}"
    )
    listed = admin_client.get(link.replace("&amp;", "&")).context["cl"].queryset
    assert sorted(e.customer_id for e in listed) == [clinic.pk] * 4


def test_a_customer_without_calls_this_month_sees_zeros(admin_client, lab):
    page = admin_client.get(url("accounts_customer_change", lab.pk)).content.decode()

    total = page[page.index('id="this-month-total"') :]
    assert re.search(r'calls">0</td>.*billable">0</td>.*cost">\$0.00</td>', total, re.DOTALL)
    assert "Tier: <strong>Starter</strong> (starter)" in page


def test_the_customer_page_takes_the_same_queries_however_many_events(
    admin_client, django_assert_num_queries, clinic, first, second
):
    event(clinic, first, this_month_moment())
    page = url("accounts_customer_change", clinic.pk)
    admin_client.get(page)  # warm-up: content types, permissions
    with CaptureQueriesContext(connection) as before:
        admin_client.get(page)
    UsageEvent.objects.bulk_create(
        [
            UsageEvent(
                customer=clinic,
                product=config.product,
                endpoint="/x",
                call_type="single",
                billable=n % 3 != 0,
                reason="billed",
                tier_code="paygo",
                rate=Decimal("1.25") if n % 3 else None,
                created_at=this_month_moment(),
            )
            for n in range(300)
            for config in (first, second)
        ]
    )
    with django_assert_num_queries(len(before)):
        response = admin_client.get(page)
    assert response.context["this_month"].total.calls == 601
    # The month at a glance is one grouped query over the customer's events.
    glance = [q for q in before if q["sql"].startswith('SELECT "billing_usageevent"."product"')]
    assert len(glance) == 1


# --- staff only ---------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["dashboard", "customer"])
def test_anonymous_and_non_staff_users_are_sent_to_the_login_page(
    client, django_user_model, clinic, page
):
    target = (
        url("billing_usageevent_dashboard")
        if page == "dashboard"
        else url("accounts_customer_change", clinic.pk)
    )
    assert client.get(target)["Location"].startswith(url("login") + "?next=")

    client.force_login(django_user_model.objects.create_user("vet", password="pw"))

    response = client.get(target)
    assert response.status_code == 302
    assert response["Location"].startswith(url("login") + "?next=")


def test_staff_who_may_not_see_usage_get_no_dashboard_and_no_usage_links(
    client, django_user_model, clinic, clinic_month
):
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(clerk)

    assert client.get(url("billing_usageevent_dashboard")).status_code == 403
    customer_page = client.get(url("accounts_customer_change", clinic.pk)).content.decode()
    assert 'id="this-month-events"' not in customer_page
    assert 'id="staff-console"' not in client.get(url("index")).content.decode()


def test_the_admin_home_links_the_staff_console(admin_client):
    page = admin_client.get(url("index")).content.decode()

    console = page[page.index('id="staff-console"') :]
    assert f'href="{url("billing_usageevent_dashboard")}"' in console
    assert f'href="{url("billing_usageevent_summary")}"' in console


# --- billing/charts.py: stacked bars --------------------------------------------------------


def segment_heights(svg: str) -> list[float]:
    return [
        float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)" style="[^"]*"><title>', svg)
    ]


def test_stacked_segments_add_up_to_the_bars_total():
    svg = stacked_bar_chart_svg(
        ["a", "b"], [Series("one", [1, 2]), Series("two", [3, 0])], title="t", height=260
    )

    one_a, two_a, one_b = segment_heights(svg)
    plot = 260 - 18 - 18 - 28  # margins and one legend row
    assert one_a + two_a == pytest.approx(plot)  # the largest total, 4, fills the plot
    assert two_a == pytest.approx(3 * one_a)
    assert one_b == pytest.approx(plot / 2)
    assert "<title>a: 4</title>" in svg
    assert "<title>b, one: 2</title>" in svg
    assert "<title>b, two: 0</title>" not in svg  # a zero draws no segment


def test_stacked_series_each_get_a_colour_that_follows_a_theme_variable():
    svg = stacked_bar_chart_svg(["a"], [Series("one", [1]), Series("two", [1])], title="t")

    assert "var(--chart-series-0, #" in svg
    assert "var(--chart-series-1, #" in svg
    assert re.findall(r'<g class="legend">.*?>(\w+)</text></g>', svg) == ["one", "two"]


def test_stacked_chart_names_and_labels_are_escaped():
    svg = stacked_bar_chart_svg(["<i>"], [Series("<script>x</script>", [1])], title="<b>")

    assert "<script>" not in svg
    assert "<i>" not in svg
    assert "<b>" not in svg
    assert "&lt;script&gt;x&lt;/script&gt;" in svg


def test_stacked_chart_refuses_ragged_or_negative_series():
    with pytest.raises(ValueError, match="one value per label"):
        stacked_bar_chart_svg(["a", "b"], [Series("one", [1])], title="t")
    with pytest.raises(ValueError, match="non-negative"):
        stacked_bar_chart_svg(["a"], [Series("one", [-1])], title="t")


def test_stacked_chart_without_labels_says_no_data():
    assert "No data" in stacked_bar_chart_svg([], [Series("one", [])], title="t")


def test_a_long_legend_wraps_onto_another_row():
    names = [f"A rather long product name {n}" for n in range(6)]

    svg = stacked_bar_chart_svg(["a"], [Series(n, [1]) for n in names], title="t", width=720)

    rows = {y for y in re.findall(r'<g class="legend"><rect x="[\d.]+" y="([\d.]+)"', svg)}
    assert len(rows) >= 2
