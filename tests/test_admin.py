"""The staff admin: customers, API keys, the usage ledger, its reports and who may see them."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import models
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKey, Customer, Membership
from billing import engine, reports
from billing.charts import bar_chart_svg, nice_top
from billing.models import CustomerPrice, Price, Tier, UsageEvent

pytestmark = pytest.mark.django_db

RAW_KEY = re.compile(r"mia_[A-Za-z0-9_-]{43}")


def url(name: str, *args: object) -> str:
    return reverse(f"admin:{name}", args=args)


def bill(customer: Customer, code: int | None = 1, *, call_type: str = "single", **extra):
    return engine.record(
        customer=customer,
        product="vhs",
        endpoint="/vhs/v3/predict",
        call_type=call_type,
        result_code=code,
        **extra,
    )


def bill_at(customer: Customer, when: datetime, code: int | None = 1, **extra) -> UsageEvent:
    """A call decided by the engine, then moved to ``when`` (the engine stamps 'now')."""
    event_id = bill(customer, code, **extra).event_id
    UsageEvent.objects.filter(pk=event_id).update(created_at=when)
    return UsageEvent.objects.get(pk=event_id)


def last_month_moment() -> datetime:
    return engine.month_start(timezone.now()) - timedelta(days=3)


@pytest.fixture
def clinic() -> Customer:
    return Customer.objects.create(name="Northside Vets")


@pytest.fixture
def lab() -> Customer:
    starter = Tier.objects.get(code="starter")
    return Customer.objects.create(name="Harbour Lab", tier=starter, stripe_customer_id="cus_H1")


@pytest.fixture
def objects(clinic, django_user_model) -> SimpleNamespace:
    """One of everything the admin pages show."""
    api_key, _ = ApiKey.issue(clinic, label="reception")
    user = django_user_model.objects.create_user("reception", password="pw")
    membership = Membership.objects.create(user=user, customer=clinic)
    event = UsageEvent.objects.get(pk=bill(clinic, api_key=api_key).event_id)
    return SimpleNamespace(
        customer=clinic,
        api_key=api_key,
        membership=membership,
        event=event,
        tier=clinic.tier,
    )


# Every page this admin adds or configures, with a text each must show.
PAGES = [
    ("customer list", lambda o: url("accounts_customer_changelist"), "Northside Vets"),
    ("customer add", lambda o: url("accounts_customer_add"), "Stripe customer id"),
    ("customer", lambda o: url("accounts_customer_change", o.customer.pk), "reception"),
    ("key list", lambda o: url("accounts_apikey_changelist"), "Revoke selected keys"),
    ("key", lambda o: url("accounts_apikey_change", o.api_key.pk), "reception"),
    ("membership list", lambda o: url("accounts_membership_changelist"), "reception"),
    ("membership", lambda o: url("accounts_membership_change", o.membership.pk), "reception"),
    ("tier list", lambda o: url("billing_tier_changelist"), "Pay-as-you-go"),
    ("tier", lambda o: url("billing_tier_change", o.tier.pk), "paygo"),
    ("event list", lambda o: url("billing_usageevent_changelist"), "/vhs/v3/predict"),
    ("event", lambda o: url("billing_usageevent_change", o.event.pk), "valid_vhs (billed)"),
    ("summary", lambda o: url("billing_usageevent_summary"), "Northside Vets"),
    ("dashboard", lambda o: url("billing_usageevent_dashboard"), "<svg"),
    ("billing index", lambda o: url("app_list", "billing"), "Monthly usage summary"),
    ("accounts index", lambda o: url("app_list", "accounts"), "API keys"),
]
PROTECTED_URLS = [(name, build) for name, build, _ in PAGES] + [
    ("csv export", lambda o: url("billing_usageevent_export")),
    ("admin index", lambda o: url("index")),
]


# --- every page loads ---------------------------------------------------------------------


@pytest.mark.parametrize(("page", "build", "text"), PAGES, ids=[p[0] for p in PAGES])
def test_every_admin_page_loads_for_staff(admin_client, objects, page, build, text):
    response = admin_client.get(build(objects))

    assert response.status_code == 200, page
    assert text in response.content.decode()


@pytest.mark.parametrize(("page", "build"), PROTECTED_URLS, ids=[p[0] for p in PROTECTED_URLS])
def test_non_staff_users_are_sent_to_the_login_page(
    client, django_user_model, objects, page, build
):
    client.force_login(django_user_model.objects.create_user("vet", password="pw"))

    response = client.get(build(objects))

    assert response.status_code == 302, page
    assert response["Location"].startswith(url("login") + "?next=")


@pytest.mark.parametrize(("page", "build"), PROTECTED_URLS, ids=[p[0] for p in PROTECTED_URLS])
def test_anonymous_visitors_are_sent_to_the_login_page(client, objects, page, build):
    response = client.get(build(objects))

    assert response.status_code == 302, page
    assert response["Location"].startswith(url("login") + "?next=")


def test_non_staff_users_cannot_run_admin_actions(client, django_user_model, clinic):
    client.force_login(django_user_model.objects.create_user("vet", password="pw"))

    response = client.post(
        url("accounts_customer_changelist"),
        {"action": "generate_api_key", "_selected_action": [clinic.pk]},
    )

    assert response.status_code == 302
    assert response["Location"].startswith(url("login"))
    assert not ApiKey.objects.exists()


# --- customers ----------------------------------------------------------------------------


def test_customer_list_shows_live_keys_and_this_months_billable_calls(admin_client, clinic):
    ApiKey.issue(clinic, label="front desk")
    ApiKey.issue(clinic, label="old pc")[0].revoke()
    bill(clinic)
    bill(clinic)
    bill(clinic, code=6)  # free
    bill_at(clinic, last_month_moment())  # billed, but last month

    page = admin_client.get(url("accounts_customer_changelist")).content.decode()

    assert '<td class="field-live_keys">1</td>' in page
    assert '<td class="field-billable_this_month">2</td>' in page


def test_an_inactive_customer_is_listed_with_no_live_keys(admin_client, clinic):
    ApiKey.issue(clinic)
    clinic.is_active = False
    clinic.save()

    page = admin_client.get(url("accounts_customer_changelist")).content.decode()

    assert '<td class="field-live_keys">0</td>' in page


def test_the_customer_list_filters_by_tier_and_searches_by_name(admin_client, clinic, lab):
    by_tier = admin_client.get(
        url("accounts_customer_changelist"), {"tier__id__exact": lab.tier_id}
    )
    by_name = admin_client.get(url("accounts_customer_changelist"), {"q": "northside"})

    assert list(by_tier.context["cl"].result_list) == [lab]
    assert list(by_name.context["cl"].result_list) == [clinic]


def customer_form(customer: Customer, **changes: object) -> dict[str, object]:
    data = {
        "name": customer.name,
        "email": customer.email,
        "is_active": "on" if customer.is_active else "",
        "tier": customer.tier_id,
        "stripe_customer_id": customer.stripe_customer_id,
        "agreed_prices-TOTAL_FORMS": 0,
        "agreed_prices-INITIAL_FORMS": 0,
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
        "api_keys-TOTAL_FORMS": 0,
        "api_keys-INITIAL_FORMS": 0,
        **changes,
    }
    return {key: value for key, value in data.items() if value != ""}


def agreed_prices(**rates: str) -> dict[str, object]:
    """The agreed-price inline's rows for VHS: call type -> USD."""
    rows: dict[str, object] = {"agreed_prices-TOTAL_FORMS": len(rates)}
    for n, (call_type, rate) in enumerate(rates.items()):
        rows.update(
            {
                f"agreed_prices-{n}-product": "vhs",
                f"agreed_prices-{n}-call_type": call_type,
                f"agreed_prices-{n}-rate": rate,
            }
        )
    return rows


def test_staff_edit_a_customers_tier_rates_stripe_id_and_active_flag(admin_client, clinic):
    enterprise = Tier.objects.get(code="enterprise")

    response = admin_client.post(
        url("accounts_customer_change", clinic.pk),
        customer_form(
            clinic,
            tier=enterprise.pk,
            **agreed_prices(single="1.50", session="2.25"),
            stripe_customer_id="cus_N1",
            is_active="",
        ),
    )

    assert response.status_code == 302
    clinic.refresh_from_db()
    assert clinic.tier == enterprise
    assert (clinic.rate_for("vhs", "single"), clinic.rate_for("vhs", "session")) == (
        Decimal("1.50"),
        Decimal("2.25"),
    )
    assert clinic.stripe_customer_id == "cus_N1"
    assert not clinic.is_active
    assert LogEntry.objects.filter(object_id=str(clinic.pk), action_flag=CHANGE).exists()


def test_moving_a_customer_to_enterprise_requires_both_custom_rates(admin_client, clinic):
    enterprise = Tier.objects.get(code="enterprise")

    response = admin_client.post(
        url("accounts_customer_change", clinic.pk),
        customer_form(clinic, tier=enterprise.pk, **agreed_prices(single="1.50")),
    )

    assert response.status_code == 200
    assert "no list prices for vhs session" in response.content.decode()
    clinic.refresh_from_db()
    assert clinic.tier.code == "paygo"


def test_a_user_is_linked_to_a_customer_through_the_inline(admin_client, clinic, django_user_model):
    user = django_user_model.objects.create_user("nurse", password="pw")

    response = admin_client.post(
        url("accounts_customer_change", clinic.pk),
        customer_form(clinic, **{"memberships-TOTAL_FORMS": 1, "memberships-0-user": user.pk}),
    )

    assert response.status_code == 302
    assert Membership.objects.get(user=user).customer == clinic


# --- issuing keys -------------------------------------------------------------------------


def generate_keys(admin_client, *customers: Customer):
    return admin_client.post(
        url("accounts_customer_changelist"),
        {"action": "generate_api_key", "_selected_action": [c.pk for c in customers]},
    )


def text_columns_containing(text: str) -> list[str]:
    """Every model field in the database that holds ``text`` anywhere."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField):
                lookup = {f"{field.attname}__contains": text}
                if model._default_manager.filter(**lookup).exists():
                    found.append(f"{model._meta.label}.{field.name}")
    return found


def test_generating_a_key_shows_the_raw_key_once_and_stores_only_its_hash(admin_client, clinic):
    response = generate_keys(admin_client, clinic)

    page = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "cannot be shown again" in page
    (raw_key,) = RAW_KEY.findall(page)
    assert page.count(raw_key) == 1
    stored = ApiKey.objects.get(customer=clinic)
    assert stored.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert stored.label == "issued in admin by admin"
    assert raw_key.startswith(stored.prefix)
    assert text_columns_containing(raw_key) == []
    assert all(raw_key not in str(m) for m in get_messages(response.wsgi_request))
    assert raw_key not in str(response.cookies)


def test_issuing_a_key_is_written_to_the_admin_log(admin_client, clinic):
    generate_keys(admin_client, clinic)

    api_key = ApiKey.objects.get()
    addition = LogEntry.objects.get(action_flag=ADDITION)
    assert (addition.object_id, addition.user.username) == (str(api_key.pk), "admin")
    assert LogEntry.objects.get(action_flag=CHANGE).object_id == str(clinic.pk)


def test_the_raw_key_is_not_shown_again_after_the_action(admin_client, clinic):
    raw_key = RAW_KEY.search(generate_keys(admin_client, clinic).content.decode()).group()
    api_key = ApiKey.objects.get()

    for page in [
        url("accounts_customer_change", clinic.pk),
        url("accounts_customer_changelist"),
        url("accounts_apikey_changelist"),
        url("accounts_apikey_change", api_key.pk),
        url("index"),
    ]:
        content = admin_client.get(page).content.decode()
        assert raw_key not in content, page
        assert not RAW_KEY.search(content), page
    assert (
        api_key.prefix
        in admin_client.get(url("accounts_customer_change", clinic.pk)).content.decode()
    )


def test_one_key_is_issued_per_selected_customer(admin_client, clinic, lab):
    page = generate_keys(admin_client, clinic, lab).content.decode()

    assert len(set(RAW_KEY.findall(page))) == 2
    assert sorted(ApiKey.objects.values_list("customer__name", flat=True)) == [
        "Harbour Lab",
        "Northside Vets",
    ]


def test_generating_a_key_refuses_inactive_customers(admin_client, clinic, lab):
    lab.is_active = False
    lab.save()

    response = generate_keys(admin_client, clinic, lab)

    assert list(ApiKey.objects.values_list("customer__name", flat=True)) == ["Northside Vets"]
    warnings = [str(m) for m in get_messages(response.wsgi_request)]
    assert warnings == ["Harbour Lab is inactive: no key issued. Activate the customer first."]


def test_generating_a_key_for_only_inactive_customers_returns_to_the_list(admin_client, lab):
    lab.is_active = False
    lab.save()

    response = generate_keys(admin_client, lab)

    assert response.status_code == 302
    assert not ApiKey.objects.exists()


def test_staff_without_permission_to_add_keys_are_not_offered_the_action(
    client, django_user_model, clinic
):
    staff = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["view_customer", "change_customer"])
    )
    client.force_login(staff)

    page = client.get(url("accounts_customer_changelist")).content.decode()
    generate_keys(client, clinic)

    assert "Northside Vets" in page
    assert "generate_api_key" not in page
    assert not ApiKey.objects.exists()


# --- API keys -----------------------------------------------------------------------------


def test_api_key_pages_never_show_the_key_hash(admin_client, objects):
    for page in [
        url("accounts_apikey_changelist"),
        url("accounts_apikey_change", objects.api_key.pk),
        url("accounts_customer_change", objects.customer.pk),
        url("billing_usageevent_change", objects.event.pk),
    ]:
        content = admin_client.get(page).content.decode()
        assert objects.api_key.prefix in content, page
        assert objects.api_key.key_hash not in content, page


def test_api_keys_cannot_be_added_or_deleted_in_admin(admin_client, objects):
    add = admin_client.get("/admin/accounts/apikey/add/")
    delete = admin_client.post(url("accounts_apikey_delete", objects.api_key.pk), {"post": "yes"})
    inline = admin_client.get(url("accounts_customer_change", objects.customer.pk))

    assert add.status_code == 403
    assert delete.status_code == 403
    assert ApiKey.objects.filter(pk=objects.api_key.pk).exists()
    assert 'name="api_keys-MAX_NUM_FORMS" value="0"' in inline.content.decode()


def test_revoking_keys_sets_revoked_at_and_writes_an_admin_log_entry(admin_client, clinic):
    keep, _ = ApiKey.issue(clinic, label="keep")
    revoke, _ = ApiKey.issue(clinic, label="lost laptop")

    response = admin_client.post(
        url("accounts_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [revoke.pk]},
    )

    assert response.status_code == 302
    revoke.refresh_from_db()
    keep.refresh_from_db()
    assert revoke.revoked_at is not None
    assert not revoke.is_live
    assert keep.revoked_at is None
    entry = LogEntry.objects.get(action_flag=CHANGE)
    assert (entry.object_id, entry.get_change_message()) == (str(revoke.pk), "Revoked")


def test_revoking_an_already_revoked_key_keeps_its_first_revocation_time(admin_client, clinic):
    api_key, _ = ApiKey.issue(clinic)
    api_key.revoke()
    first = api_key.revoked_at

    admin_client.post(
        url("accounts_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [api_key.pk]},
    )

    api_key.refresh_from_db()
    assert api_key.revoked_at == first
    assert not LogEntry.objects.exists()


def test_api_keys_are_found_by_prefix_or_customer_name(admin_client, clinic, lab):
    wanted, _ = ApiKey.issue(clinic)
    ApiKey.issue(lab)

    by_prefix = admin_client.get(url("accounts_apikey_changelist"), {"q": wanted.prefix})
    by_customer = admin_client.get(url("accounts_apikey_changelist"), {"q": "northside"})

    assert list(by_prefix.context["cl"].result_list) == [wanted]
    assert list(by_customer.context["cl"].result_list) == [wanted]


# --- tiers --------------------------------------------------------------------------------


def test_staff_change_a_tiers_name_band_and_rates_but_not_its_code(admin_client):
    starter = Tier.objects.get(code="starter")

    prices = list(starter.prices.filter(product="vhs").order_by("call_type"))  # session, single
    response = admin_client.post(
        url("billing_tier_change", starter.pk),
        {
            "code": "renamed",
            "name": "Starter 2027",
            "min_monthly_calls": 101,
            "max_monthly_calls": 600,
            "prices-TOTAL_FORMS": 2,
            "prices-INITIAL_FORMS": 2,
            **{
                f"prices-{n}-{field}": value
                for n, (price, rate) in enumerate(zip(prices, ["3.40", "2.40"], strict=True))
                for field, value in {
                    "id": price.pk,
                    "tier": starter.pk,
                    "product": "vhs",
                    "call_type": price.call_type,
                    "rate": rate,
                }.items()
            },
        },
    )

    assert response.status_code == 302
    starter.refresh_from_db()
    assert (starter.code, starter.name, starter.max_monthly_calls) == (
        "starter",
        "Starter 2027",
        600,
    )
    assert (starter.price("vhs", "single"), starter.price("vhs", "session")) == (
        Decimal("2.40"),
        Decimal("3.40"),
    )


def test_the_tier_list_shows_each_tiers_list_prices(admin_client):
    page = admin_client.get(url("billing_tier_changelist")).content.decode()

    assert "vhs single 3.00, vhs session 4.00" in page
    assert '<td class="field-list_prices">agreed</td>' in page  # enterprise


def test_staff_add_a_price_for_another_product_to_a_tier(admin_client):
    paygo = Tier.objects.get(code="paygo")
    prices = list(paygo.prices.order_by("pk"))
    rows = {
        f"prices-{n}-{field}": value
        for n, price in enumerate(prices)
        for field, value in {
            "id": price.pk,
            "tier": paygo.pk,
            "product": price.product,
            "call_type": price.call_type,
            "rate": price.rate,
        }.items()
    }
    added = len(prices)

    response = admin_client.post(
        url("billing_tier_change", paygo.pk),
        {
            "name": paygo.name,
            "min_monthly_calls": 0,
            "max_monthly_calls": 100,
            "prices-TOTAL_FORMS": added + 1,
            "prices-INITIAL_FORMS": added,
            **rows,
            f"prices-{added}-product": "leukemia",
            f"prices-{added}-call_type": "single",
            f"prices-{added}-rate": "0.25",
        },
    )

    assert response.status_code == 302
    assert paygo.price("leukemia", "single") == Decimal("0.25")
    assert paygo.price("vhs", "single") == Decimal("3.00")


def test_a_tier_refuses_two_prices_for_one_product_and_call_type(admin_client):
    paygo = Tier.objects.get(code="paygo")
    Price.objects.filter(tier=paygo).delete()
    duplicate = {"product": "vhs", "call_type": "single", "rate": "1.00"}

    response = admin_client.post(
        url("billing_tier_change", paygo.pk),
        {
            "name": paygo.name,
            "min_monthly_calls": 0,
            "prices-TOTAL_FORMS": 2,
            "prices-INITIAL_FORMS": 0,
            **{f"prices-{n}-{k}": v for n in range(2) for k, v in duplicate.items()},
        },
    )

    assert response.status_code == 200
    assert not paygo.prices.exists()


def test_a_customers_page_shows_its_agreed_prices(admin_client, clinic):
    CustomerPrice.objects.create(customer=clinic, product="vhs", call_type="single", rate="2.10")

    page = admin_client.get(url("accounts_customer_change", clinic.pk)).content.decode()

    assert "Agreed prices" in page
    assert 'value="2.10"' in page


# --- the usage ledger ---------------------------------------------------------------------


def test_usage_events_cannot_be_added_changed_or_deleted_in_admin(admin_client, objects):
    event = objects.event
    change_url = url("billing_usageevent_change", event.pk)

    view = admin_client.get(change_url)
    add = admin_client.get("/admin/billing/usageevent/add/")
    change = admin_client.post(change_url, {"billable": "", "rate": "0.00"})
    delete = admin_client.post(url("billing_usageevent_delete", event.pk), {"post": "yes"})
    listing = admin_client.get(url("billing_usageevent_changelist"))

    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    event.refresh_from_db()
    assert (event.billable, event.rate) == (True, Decimal("3.00"))
    assert "delete_selected" not in listing.content.decode()


def test_the_ledger_shows_whether_each_event_reached_stripe(admin_client, lab, clinic):
    bill(clinic)  # no Stripe id: nothing owed
    pending = bill_at(lab, timezone.now() - timedelta(hours=2))
    failing = UsageEvent.objects.get(pk=bill(lab).event_id)
    failing.last_report_error = "APIConnectionError: down"
    failing.report_attempts = 3
    failing.save()
    reported = UsageEvent.objects.get(pk=bill(lab).event_id)
    reported.reported_at = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    reported.save()

    page = admin_client.get(url("billing_usageevent_changelist")).content.decode()

    assert "pending, overdue" in page
    assert 'title="APIConnectionError: down"' in page
    assert "failing (3 attempts)" in page
    assert "reported 2026-01-02 03:04 UTC" in page
    assert pending.reported_at is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("reported", ["reported"]),
        ("pending", ["pending_new", "pending_old"]),
        ("failing", ["failing"]),
        ("overdue", ["failing", "pending_old"]),
        ("not_owed", ["free", "no_stripe"]),
    ],
)
def test_the_stripe_reporting_filter_sorts_events_by_their_reporting_state(
    admin_client, clinic, lab, status, expected
):
    hours_ago = timezone.now() - timedelta(hours=2)
    bill(lab, request_id="pending_new")
    bill_at(lab, hours_ago, request_id="pending_old")
    bill_at(lab, hours_ago, request_id="failing")
    bill(lab, request_id="reported")
    bill(lab, code=0, request_id="free")
    bill(clinic, request_id="no_stripe")
    UsageEvent.objects.filter(request_id="failing").update(last_report_error="boom")
    UsageEvent.objects.filter(request_id="reported").update(reported_at=timezone.now())

    response = admin_client.get(url("billing_usageevent_changelist"), {"stripe": status})

    assert sorted(e.request_id for e in response.context["cl"].result_list) == expected


def test_the_month_filter_lists_the_last_twelve_utc_months_and_filters_by_them(
    admin_client, clinic
):
    bill(clinic, request_id="this month")
    bill_at(clinic, last_month_moment(), request_id="last month")
    last_month = f"{last_month_moment():%Y-%m}"

    response = admin_client.get(url("billing_usageevent_changelist"), {"month": last_month})

    [month_filter] = [f for f in response.context["cl"].filter_specs if f.title == "month (UTC)"]
    choices = [value for value, _ in month_filter.lookup_choices]
    assert len(choices) == 12
    assert choices[:2] == [f"{timezone.now():%Y-%m}", last_month]
    assert [e.request_id for e in response.context["cl"].result_list] == ["last month"]


def test_an_invalid_month_in_the_filter_is_reported_not_crashed_on(admin_client, clinic):
    response = admin_client.get(url("billing_usageevent_changelist"), {"month": "2026-13"})

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


# --- CSV export ---------------------------------------------------------------------------


def csv_rows(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_export_streams_the_filtered_events_with_a_header_row(admin_client, clinic, lab):
    api_key, _ = ApiKey.issue(clinic, label="desk")
    bill(clinic, api_key=api_key, request_id="r1", patient_uuid="p1")
    bill(clinic, code=6, request_id="r2")
    bill(lab, request_id="r3")

    response = admin_client.get(
        url("billing_usageevent_export"), {"customer__id__exact": clinic.pk, "billable__exact": 1}
    )

    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith('attachment; filename="usage-events-')
    rows = csv_rows(response)
    assert list(rows[0]) == [
        "id",
        "created_at_utc",
        "customer_id",
        "customer",
        "api_key_prefix",
        "product",
        "endpoint",
        "call_type",
        "billable",
        "reason",
        "tier",
        "rate_usd",
        "result_code",
        "monthly_usage",
        "patient_uuid",
        "request_id",
        "reported_at_utc",
        "report_attempts",
        "last_report_error",
    ]
    [row] = rows
    assert row["customer"] == "Northside Vets"
    assert row["api_key_prefix"] == api_key.prefix
    assert (row["billable"], row["reason"], row["rate_usd"]) == ("True", "valid_vhs", "3.00")
    assert (row["request_id"], row["patient_uuid"], row["monthly_usage"]) == ("r1", "p1", "1")
    assert row["created_at_utc"].endswith("+00:00")


def test_csv_export_never_contains_an_api_key_hash(admin_client, clinic):
    api_key, _ = ApiKey.issue(clinic)
    bill(clinic, api_key=api_key)

    text = b"".join(admin_client.get(url("billing_usageevent_export")).streaming_content)

    assert api_key.key_hash.encode() not in text
    assert b"hash" not in text


def test_csv_export_follows_the_month_filter(admin_client, clinic):
    bill(clinic, request_id="now")
    bill_at(clinic, last_month_moment(), request_id="before")

    response = admin_client.get(
        url("billing_usageevent_export"), {"month": f"{last_month_moment():%Y-%m}"}
    )

    assert [row["request_id"] for row in csv_rows(response)] == ["before"]


def test_csv_export_defuses_spreadsheet_formulas_in_caller_supplied_text(admin_client, clinic):
    bill(clinic, request_id='=HYPERLINK("http://evil.example")', patient_uuid="+1-555")

    [row] = csv_rows(admin_client.get(url("billing_usageevent_export")))

    assert row["request_id"] == '\'=HYPERLINK("http://evil.example")'
    assert row["patient_uuid"] == "'+1-555"


def test_the_export_selected_action_exports_only_the_selected_events(admin_client, clinic):
    wanted = bill(clinic, request_id="wanted").event_id
    bill(clinic, request_id="other")

    response = admin_client.post(
        url("billing_usageevent_changelist"),
        {"action": "export_selected_csv", "_selected_action": [wanted]},
    )

    assert [row["request_id"] for row in csv_rows(response)] == ["wanted"]


def test_the_ledger_links_the_export_with_its_current_filters(admin_client, clinic):
    page = admin_client.get(url("billing_usageevent_changelist"), {"billable__exact": "1"})

    assert f'href="{url("billing_usageevent_export")}?billable__exact=1"' in page.content.decode()


# --- monthly summary ----------------------------------------------------------------------


@pytest.fixture
def month_of_usage(clinic, lab) -> None:
    """This month: the clinic (paygo) bills 2 single + 1 session = $10.00 and gets 2 free
    calls; the lab (starter) bills 1 single = $2.50. Last month: one clinic call."""
    bill(clinic, patient_uuid="rex")
    bill(clinic, patient_uuid="rex")  # recheck within 24 h: free
    bill(clinic)
    bill(clinic, call_type="session")
    bill(clinic, code=0)  # no valid VHS: free
    bill(lab)
    bill_at(clinic, last_month_moment())


def test_the_monthly_summary_counts_calls_and_cost_per_customer(month_of_usage):
    summary = reports.monthly_summary(reports.month_of(timezone.now()))

    lab, clinic = summary.rows
    assert (clinic.customer, clinic.tiers) == ("Northside Vets", ["paygo"])
    assert (clinic.billable_single, clinic.billable_session) == (2, 1)
    assert clinic.free == {"no_valid_vhs": 1, "recheck_24h": 1, "billing_error": 0}
    assert clinic.cost == Decimal("10.00")
    assert (lab.customer, lab.tiers, lab.billable_single, lab.cost) == (
        "Harbour Lab",
        ["starter"],
        1,
        Decimal("2.50"),
    )
    assert (summary.total.billable, summary.total.free_total) == (4, 2)
    assert summary.total.cost == Decimal("12.50")


def test_the_summary_page_shows_each_customer_and_a_total_row(admin_client, month_of_usage):
    page = admin_client.get(url("billing_usageevent_summary")).content.decode()

    assert "Usage summary, " + f"{timezone.now():%B %Y}" in page
    assert re.search(r"Northside Vets</a></th>\s*<td>paygo</td>", page)
    assert '<td class="cost">$10.00</td>' in page
    assert '<td class="cost">$2.50</td>' in page
    total = page[page.index('id="total-row"') :]
    assert re.search(r'billable-single">3<.*billable-session">1<.*cost">\$12.50<', total, re.DOTALL)


def test_the_summary_page_shows_the_month_asked_for(admin_client, month_of_usage):
    last_month = reports.month_of(last_month_moment())

    response = admin_client.get(url("billing_usageevent_summary"), {"month": f"{last_month:%Y-%m}"})

    summary = response.context["summary"]
    assert summary.month == last_month
    assert [(r.customer, r.billable_single, r.cost) for r in summary.rows] == [
        ("Northside Vets", 1, Decimal("3.00"))
    ]


def test_the_summary_page_falls_back_to_this_month_for_a_malformed_month(
    admin_client, month_of_usage
):
    response = admin_client.get(url("billing_usageevent_summary"), {"month": "lately"})

    assert response.context["summary"].month == reports.month_of(timezone.now())
    assert response.context["summary"].total.cost == Decimal("12.50")


def test_free_reasons_are_every_products_own_then_the_engines():
    assert reports.FREE_REASONS == (
        "not_classified",
        "no_valid_vhs",
        "not_analysed",
        "recheck_24h",
        "billing_error",
    )


def test_the_summary_has_a_free_column_per_reason_of_the_products_called_that_month(
    admin_client, month_of_usage
):
    page = admin_client.get(url("billing_usageevent_summary")).content.decode()

    table = page[page.index('<table id="result_list">') :]
    headers = re.findall(r'<th scope="col">([^<]*)</th>', table)
    assert headers[4:7] == [
        "no_valid_vhs (free)",
        "Recheck within 24 h (free)",
        "Billing error (free)",
    ]
    assert "not_classified" not in page  # nobody called that product this month


def test_billing_errors_are_free_calls_in_the_summary(admin_client):
    enterprise = Tier.objects.get(code="enterprise")
    unpriced = Customer.objects.create(name="Unpriced", tier=enterprise)  # no agreed rates

    assert bill(unpriced).reason == "billing_error"
    [row] = reports.monthly_summary(reports.month_of(timezone.now())).rows

    assert (row.billable, row.free["billing_error"], row.cost) == (0, 1, Decimal("0.00"))


def test_an_empty_month_has_no_rows_and_a_zero_total():
    summary = reports.monthly_summary(date(2020, 2, 1))

    assert summary.rows == []
    assert (summary.total.billable, summary.total.cost) == (0, Decimal("0.00"))


# --- dashboard ----------------------------------------------------------------------------


def test_the_dashboard_draws_both_charts_inline_and_counts_the_stripe_backlog(
    admin_client, clinic, lab
):
    bill(clinic)
    bill_at(lab, timezone.now() - timedelta(hours=3))  # overdue
    bill(lab)  # pending, recent
    failing = bill_at(lab, timezone.now() - timedelta(hours=2))
    UsageEvent.objects.filter(pk=failing.pk).update(last_report_error="StripeError")
    unpriced = Customer.objects.create(name="Unpriced", tier=Tier.objects.get(code="enterprise"))
    bill(unpriced)  # billing_error

    response = admin_client.get(url("billing_usageevent_dashboard"))

    page = response.content.decode()
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart"') == 2
    assert "Billable calls per day (UTC), last 30 days" in page
    assert "Billed revenue per month" in page
    assert "<script" not in page[page.index('id="daily-chart"') :]
    health = response.context["health"]
    assert (health.pending, health.failing, health.overdue, health.billing_errors) == (2, 1, 2, 1)
    assert '<td id="count-billing-errors">1</td>' in page
    assert re.search(r"Harbour Lab</a></th>\s*<td>2</td>\s*<td>1</td>", page)
    assert response.context["daily_total"] == 4
    assert response.context["revenue_total"] == Decimal("10.50")


def test_the_dashboard_warns_when_stripe_reporting_is_not_configured(admin_client, settings):
    settings.STRIPE_API_KEY = ""

    page = admin_client.get(url("billing_usageevent_dashboard")).content.decode()

    assert "STRIPE_API_KEY is not set" in page


# --- billing/reports.py -------------------------------------------------------------------


def test_months_are_added_across_year_boundaries():
    assert reports.add_months(date(2026, 11, 1), 2) == date(2027, 1, 1)
    assert reports.add_months(date(2026, 1, 1), -1) == date(2025, 12, 1)
    assert reports.add_months(date(2026, 3, 1), -14) == date(2025, 1, 1)


def test_a_month_is_a_half_open_utc_interval():
    assert reports.month_range(date(2026, 12, 1)) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


def test_month_of_uses_the_utc_calendar():
    late_in_new_york = datetime(2026, 10, 31, 22, 0, tzinfo=ZoneInfo("America/New_York"))

    assert reports.month_of(late_in_new_york) == date(2026, 11, 1)


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-01", "2026/01", "", "abcd-ef"])
def test_parse_month_accepts_only_year_dash_month(text):
    with pytest.raises(ValueError):
        reports.parse_month(text)


def test_parse_month_reads_year_dash_month():
    assert reports.parse_month("2026-11") == date(2026, 11, 1)


def test_recent_months_run_back_from_the_current_month():
    now = datetime(2026, 2, 15, tzinfo=UTC)

    months = reports.recent_months(12, now)

    assert months[0] == date(2026, 2, 1)
    assert months[1] == date(2026, 1, 1)
    assert months[-1] == date(2025, 3, 1)
    assert len(months) == 12


def test_daily_billable_calls_are_zero_filled_and_split_at_utc_midnight(clinic):
    bill_at(clinic, datetime(2026, 3, 9, 23, 59, tzinfo=UTC))
    bill_at(clinic, datetime(2026, 3, 10, 0, 0, tzinfo=UTC))
    bill_at(clinic, datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    bill_at(clinic, datetime(2026, 3, 10, 12, 0, tzinfo=UTC), code=6)  # free: not counted
    bill_at(clinic, datetime(2026, 3, 11, 0, 0, tzinfo=UTC))  # after the range

    series = reports.daily_billable_calls(date(2026, 3, 10), days=3)

    assert series == [(date(2026, 3, 8), 0), (date(2026, 3, 9), 1), (date(2026, 3, 10), 2)]


def test_monthly_revenue_sums_billed_rates_per_utc_month_as_decimal(clinic, lab):
    bill_at(clinic, datetime(2026, 1, 31, 23, 59, tzinfo=UTC))  # 3.00
    bill_at(lab, datetime(2026, 2, 1, 0, 0, tzinfo=UTC))  # 2.50
    bill_at(clinic, datetime(2026, 2, 10, tzinfo=UTC), call_type="session")  # 4.00
    bill_at(clinic, datetime(2026, 2, 11, tzinfo=UTC), code=7)  # free

    series = reports.monthly_revenue(date(2026, 3, 1), months=3)

    assert series == [
        (date(2026, 1, 1), Decimal("3.00")),
        (date(2026, 2, 1), Decimal("6.50")),
        (date(2026, 3, 1), Decimal("0.00")),
    ]
    assert all(isinstance(usd, Decimal) for _, usd in series)


def test_stripe_health_lists_customers_with_overdue_events_oldest_first(clinic, lab):
    clinic.stripe_customer_id = "cus_C1"
    clinic.save()
    now = timezone.now()
    bill_at(lab, now - timedelta(hours=5))
    bill_at(clinic, now - timedelta(hours=9))
    bill_at(clinic, now - timedelta(minutes=10))  # pending, not yet overdue

    health = reports.stripe_health(now)

    assert [(c.customer, c.events) for c in health.overdue_customers] == [
        ("Northside Vets", 1),
        ("Harbour Lab", 1),
    ]
    assert (health.pending, health.overdue, health.failing) == (3, 2, 0)


def test_an_unknown_stripe_status_is_an_error():
    with pytest.raises(ValueError, match="unknown Stripe reporting status"):
        reports.stripe_status_q("lost")


# --- billing/charts.py --------------------------------------------------------------------


def bar_heights(svg: str) -> list[float]:
    return [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]


@pytest.mark.parametrize(
    ("largest", "whole", "top"),
    [
        (4, True, 4),
        (5, True, 6),
        (1, True, 2),
        (0, True, 2),
        (0, False, 1),
        (12.5, False, 20),
        (0.3, False, 0.4),
        (1000, False, 1000),
        (1001, False, 2000),
    ],
)
def test_the_y_axis_ends_at_a_round_number_at_or_above_the_largest_value(largest, whole, top):
    assert nice_top(largest, whole=whole) == pytest.approx(top)


def test_axis_ticks_of_counts_are_whole_numbers():
    svg = bar_chart_svg([("a", 3), ("b", 5)], title="t")

    ticks = re.findall(r'text-anchor="end" [^>]*>([^<]*)</text>', svg)
    assert ticks == ["0", "3", "6"]


def test_bar_heights_are_proportional_to_the_values():
    svg = bar_chart_svg([("a", 1), ("b", 2), ("c", 4)], title="t", height=240)

    heights = bar_heights(svg)
    assert heights[2] == pytest.approx(240 - 18 - 28)  # the largest fills the plot
    assert heights[1] == pytest.approx(heights[2] / 2)
    assert heights[0] == pytest.approx(heights[2] / 4)


def test_a_chart_is_a_self_contained_svg_with_a_title_and_hover_values():
    svg = bar_chart_svg(
        [("Jan 26", Decimal("3.00")), ("Feb 26", Decimal("12.50"))],
        title="Revenue",
        format_value=lambda usd: f"${usd:,.2f}",
    )

    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert svg.endswith("</svg>")
    assert 'role="img"' in svg
    assert "<title>Revenue</title>" in svg
    assert "<title>Feb 26: $12.50</title>" in svg
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_chart_labels_and_titles_are_escaped():
    svg = bar_chart_svg([("<script>alert(1)</script>", 1)], title='"><b>')

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "<b>" not in svg


def test_an_empty_series_says_no_data():
    svg = bar_chart_svg([], title="Nothing yet")

    assert "No data" in svg
    assert "<rect" not in svg


def test_an_all_zero_series_draws_flat_bars():
    assert bar_heights(bar_chart_svg([("a", 0), ("b", 0)], title="t")) == [0.0, 0.0]


def test_negative_values_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        bar_chart_svg([("a", -1)], title="t")


def test_a_long_series_labels_only_every_few_bars_so_labels_never_overlap():
    points = [(f"d{n:02}", n) for n in range(30)]

    svg = bar_chart_svg(points, title="t", width=720)

    assert svg.count("<rect") == 30
    labelled = re.findall(r">(d\d\d)</text>", svg)
    assert 5 <= len(labelled) < 30
    assert labelled[0] == "d00"


# --- patients and measurement history (inference/products/vhs/admin.py) ---------------------------


@pytest.fixture
def measured_patient():
    from inference.products.vhs.history import record_measurement

    customer = Customer.objects.create(name="History clinic")
    record_measurement(customer, "rex-7", 10.9, 2.1, 1, "vhs-ref-phantom-1.0")
    return customer.patients.get()


def test_staff_see_patients_and_their_measurement_history(admin_client, measured_patient):
    listing = admin_client.get("/admin/vhs/patient/")
    detail = admin_client.get(f"/admin/vhs/patient/{measured_patient.pk}/change/")
    measurements = admin_client.get("/admin/vhs/measurement/")

    assert listing.status_code == detail.status_code == measurements.status_code == 200
    assert b"rex-7" in listing.content
    assert b"10.9" in detail.content


def test_patient_history_is_read_only_in_admin(admin_client, measured_patient):
    assert admin_client.get("/admin/vhs/patient/add/").status_code == 403
    response = admin_client.post(f"/admin/vhs/patient/{measured_patient.pk}/delete/")
    assert response.status_code == 403


def test_non_staff_cannot_see_patients(client, django_user_model, measured_patient):
    user = django_user_model.objects.create_user("vet", password="pw-not-staff")
    client.force_login(user)

    assert client.get("/admin/vhs/patient/").status_code == 302
