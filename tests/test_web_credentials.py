"""The staff pages' credentials: a staff session gets a short-lived API key and JWT of an
internal customer on a free tier; nobody else gets anything, and nothing of it is billed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from accounts import keys
from accounts.authentication import ACTS_FOR_CLAIM, find_api_key, jwt_customer
from accounts.models import ApiKey, Customer, Membership
from billing import stripe_reporting
from billing.models import CallType, Tier, UsageEvent
from inference.runtime.product import products
from web import credentials

pytestmark = pytest.mark.django_db

PASSWORD = "a-staff-password-for-tests"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("staffer", password=PASSWORD, is_staff=True)


@pytest.fixture
def staff_client(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    return client


def csrf(client: Client) -> str:
    """The token a page's meta tag carries (any staff page sets the cookie)."""
    client.get("/try/leukemia/")
    return client.cookies["csrftoken"].value


def get_credentials(client: Client) -> dict:
    response = client.post("/try/credentials", HTTP_X_CSRFTOKEN=csrf(client))
    assert response.status_code == 200, response.content
    return response.json()


def test_a_staff_session_gets_a_key_and_jwt_of_the_internal_customer(staff, staff_client):
    body = get_credentials(staff_client)

    assert set(body) == {"api_key", "jwt", "expires_in"}
    assert 890 <= body["expires_in"] <= 900
    api_key = find_api_key(body["api_key"])
    assert api_key.customer.name == credentials.CONSOLE_CUSTOMER
    assert api_key.customer.tier.code == credentials.FREE_TIER_CODE
    assert api_key.customer.stripe_customer_id == ""
    assert timedelta(seconds=890) <= api_key.expires_at - timezone.now() <= timedelta(seconds=900)
    token = AccessToken(body["jwt"])
    assert str(token["user_id"]) == str(staff.pk)
    assert token[ACTS_FOR_CLAIM] == api_key.customer.pk
    assert 890 <= token["exp"] - timezone.now().timestamp() <= 900
    # Only the key's hash is stored, as for every key.
    assert ApiKey.objects.filter(key_hash=keys.hash_key(body["api_key"])).count() == 1
    assert not ApiKey.objects.filter(key_hash=body["api_key"]).exists()


def test_the_endpoint_says_no_store(staff_client):
    response = staff_client.post("/try/credentials", HTTP_X_CSRFTOKEN=csrf(staff_client))
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_the_key_is_reused_until_near_expiry_then_replaced(staff, staff_client):
    first = get_credentials(staff_client)
    again = get_credentials(staff_client)
    assert again["api_key"] == first["api_key"]
    assert ApiKey.objects.filter(label=credentials.key_label(staff)).count() == 1

    row = find_api_key(first["api_key"])
    row.expires_at = timezone.now() + credentials.RENEW_WITHIN - timedelta(seconds=1)
    row.save(update_fields=["expires_at"])
    renewed = get_credentials(staff_client)

    assert renewed["api_key"] != first["api_key"]
    assert find_api_key(first["api_key"]) is None  # the old one is revoked
    assert find_api_key(renewed["api_key"]).label == credentials.key_label(staff)


def test_logging_out_revokes_the_page_key(staff_client):
    body = get_credentials(staff_client)
    response = staff_client.post(
        "/logout/", HTTP_X_CSRFTOKEN=staff_client.cookies["csrftoken"].value
    )
    assert response.status_code == 302
    assert find_api_key(body["api_key"]) is None


def test_an_expired_key_is_refused():
    customer = Customer.objects.create(name="Expiring clinic")
    _, live = ApiKey.issue(customer, expires_at=timezone.now() + timedelta(minutes=1))
    _, expired = ApiKey.issue(customer, expires_at=timezone.now() - timedelta(seconds=1))
    _, forever = ApiKey.issue(customer)

    assert find_api_key(live) is not None
    assert find_api_key(expired) is None
    assert find_api_key(forever) is not None
    assert not ApiKey.objects.get(key_hash=keys.hash_key(expired)).is_live


def test_an_expired_key_is_refused_by_an_api(client):
    customer = Customer.objects.create(name="Expired key clinic")
    _, raw = ApiKey.issue(customer, expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(
        "/vhs/v3/pop-session/start", {}, content_type="application/json", HTTP_X_API_KEY=raw
    )
    assert response.status_code == 403
    assert response.json() == {"error": "Invalid API key"}


@pytest.mark.parametrize("path", ["/try/credentials", "/try/pop-ticket"])
def test_anyone_but_staff_gets_nothing(path, django_user_model):
    anonymous = Client(enforce_csrf_checks=True)
    anonymous.get("/login/")
    token = anonymous.cookies["csrftoken"].value
    assert anonymous.post(path, HTTP_X_CSRFTOKEN=token).status_code == 403

    customer_user = django_user_model.objects.create_user("clinician", password=PASSWORD)
    logged_in = Client(enforce_csrf_checks=True)
    logged_in.force_login(customer_user)
    logged_in.get("/login/")
    response = logged_in.post(path, HTTP_X_CSRFTOKEN=logged_in.cookies["csrftoken"].value)
    assert response.status_code == 403
    assert "api_key" not in response.json()
    assert not ApiKey.objects.filter(customer__name=credentials.CONSOLE_CUSTOMER).exists()


def test_the_endpoint_needs_the_csrf_token_and_post(staff_client):
    assert staff_client.post("/try/credentials").status_code == 403
    assert staff_client.get("/try/credentials").status_code == 405
    assert not ApiKey.objects.filter(customer__name=credentials.CONSOLE_CUSTOMER).exists()


def test_credentials_never_appear_in_a_rendered_page(staff_client):
    body = get_credentials(staff_client)
    for path in ["/", "/try/leukemia/", "/try/cxr/", "/try/pop/"]:
        html = staff_client.get(path).content.decode()
        assert body["api_key"] not in html
        assert body["jwt"] not in html


def test_the_free_tier_prices_every_product_and_call_type_at_zero():
    tier = credentials.free_tier()
    prices = {(p.product, p.call_type): p.rate for p in tier.prices.all()}
    assert prices == {
        (config.product, call_type): Decimal("0.00")
        for config in products()
        for call_type in CallType.values
    }
    assert tier.missing_prices() == []
    assert Tier.objects.filter(code=credentials.FREE_TIER_CODE).count() == 1
    credentials.free_tier()  # idempotent
    assert Tier.objects.filter(code=credentials.FREE_TIER_CODE).count() == 1


def test_the_internal_customer_is_kept_on_the_free_tier_without_stripe():
    customer = credentials.console_customer()
    customer.tier = Tier.objects.get(code="paygo")
    customer.stripe_customer_id = "cus_oops"
    customer.save()
    again = credentials.console_customer()
    assert again.pk == customer.pk
    assert (again.tier.code, again.stripe_customer_id) == (credentials.FREE_TIER_CODE, "")


def test_usage_of_the_internal_customer_is_recorded_but_never_reported_to_stripe(settings):
    settings.STRIPE_API_KEY = "sk_test_never_used"
    customer = credentials.console_customer()
    product = next(iter(products())).product
    event = UsageEvent.objects.create(
        customer=customer,
        product=product,
        endpoint="/try",
        call_type="single",
        billable=True,
        reason="classified",
        rate=customer.rate_for(product, "single"),
        request_id="r1",
        result_code=1,
    )
    assert event.rate == Decimal("0.00")
    assert not stripe_reporting.unreported_events().filter(pk=event.pk).exists()
    # Even with a Stripe id set by mistake, a zero amount is never sent.
    Customer.objects.filter(pk=customer.pk).update(stripe_customer_id="cus_mistake")
    assert not stripe_reporting.unreported_events().filter(pk=event.pk).exists()
    assert stripe_reporting.report(event.pk) is True  # nothing to send, nothing sent
    event.refresh_from_db()
    assert event.reported_at is None
    assert event.report_attempts == 0


def test_a_page_jwt_acts_for_the_internal_customer_even_for_a_linked_staff_user(staff):
    clinic = Customer.objects.create(name="Real clinic")
    Membership.objects.create(user=staff, customer=clinic)
    body = credentials.page_credentials(staff).as_json()
    token = AccessToken(body["jwt"])
    assert jwt_customer(staff, token).name == credentials.CONSOLE_CUSTOMER
    # The user's own /auth/token/ JWT still acts for the clinic.
    assert jwt_customer(staff, AccessToken.for_user(staff)) == clinic


def test_a_page_jwt_stops_acting_when_its_user_is_no_longer_staff(staff):
    token = AccessToken(credentials.page_credentials(staff).jwt)
    staff.is_staff = False
    staff.save()
    assert jwt_customer(staff, token) is None


def test_pages_send_anyone_but_staff_to_the_login(django_user_model):
    for path in ["/", "/try/leukemia/", "/try/cxr/", "/try/pop/"]:
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    user = django_user_model.objects.create_user("not-staff", password=PASSWORD)
    client = Client()
    client.force_login(user)
    assert client.get("/").status_code == 302


def test_the_login_refuses_accounts_that_are_not_staff(django_user_model):
    django_user_model.objects.create_user("not-staff", password=PASSWORD)
    response = Client().post("/login/", {"username": "not-staff", "password": PASSWORD})
    assert response.status_code == 200
    assert b"staff account" in response.content


def test_staff_log_in_and_see_the_home_page(staff):
    client = Client()
    response = client.post("/login/", {"username": "staffer", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/").content.decode()
    for config in products():
        assert config.verbose_name in home
    assert "/api/docs/" in home
    assert "/admin/" in home


def test_a_pop_ticket_for_a_session_of_the_internal_customer(staff_client):
    body = get_credentials(staff_client)
    started = Client().post(
        "/vhs/v3/pop-session/start",
        {},
        content_type="application/json",
        HTTP_X_API_KEY=body["api_key"],
    )
    session_id = started.json()["session_id"]
    token = staff_client.cookies["csrftoken"].value

    response = staff_client.post(
        "/try/pop-ticket",
        {"session_id": session_id},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )

    assert response.status_code == 200, response.content
    assert set(response.json()) == {"ticket", "expires_in"}
    assert "no-store" in response["Cache-Control"]
    from inference.products.vhs import session_tickets

    customer, api_key = session_tickets.redeem_ticket(response.json()["ticket"], session_id)
    assert (customer.name, api_key) == (credentials.CONSOLE_CUSTOMER, None)


def test_a_pop_ticket_for_another_customers_session_is_a_404(staff_client):
    other = ApiKey.issue(Customer.objects.create(name="Other clinic"))[1]
    started = Client().post(
        "/vhs/v3/pop-session/start", {}, content_type="application/json", HTTP_X_API_KEY=other
    )
    token = csrf(staff_client)
    response = staff_client.post(
        "/try/pop-ticket",
        {"session_id": started.json()["session_id"]},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 404
    assert response.json() == {"error": "Session not found"}
