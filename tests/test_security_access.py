"""Staff-only pages and admin, and CSRF on everything a session authenticates.

Every staff page (``web.urls``) sends anyone but active staff to the login page, every JSON
endpoint of the pages answers them 403, the admin sends them to its login; the login form
refuses non-staff credentials.  POSTs that a session cookie authenticates need Django's CSRF
token; the APIs take no cookies at all (a staff session is no API credential), so they need none.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from web.access import LOGIN_REQUIRED

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # a test user's
PAGES = ["/", "/try/leukemia/", "/try/cxr/", "/try/pop/", "/try/vhs/"]
JSON_GETS = ["/try/samples/leukemia", "/try/samples/cxr", "/try/vhs/sample"]
JSON_POSTS = ["/try/credentials", "/try/pop-ticket"]
ADMIN = ["/admin/", "/admin/accounts/customer/", "/admin/accounts/apikey/", "/admin/auth/user/"]


@pytest.fixture
def users(django_user_model):
    make = django_user_model.objects.create_user
    return {
        "clinic user": make("clinician", password=PASSWORD),
        "inactive staff": make("former", password=PASSWORD, is_staff=True, is_active=False),
        "staff": make("staffer", password=PASSWORD, is_staff=True),
    }


def as_user(users, who):
    client = Client()
    if who != "anonymous":
        client.force_login(users[who])
    return client


def _web_routes(patterns, prefix="") -> set[str]:
    routes = set()
    for entry in patterns:
        if isinstance(entry, URLResolver):
            routes |= _web_routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            routes.add(prefix + str(entry.pattern))
    return routes


def test_every_staff_route_is_tried_below():
    """A new page must be added to the lists above (and so be tried) to pass."""
    web = next(e for e in get_resolver().url_patterns if getattr(e, "app_name", "") == "web")
    tried = {p.lstrip("/") for p in PAGES + JSON_GETS + JSON_POSTS}
    tried |= {"try/samples/<slug:kind>"}
    assert _web_routes(web.url_patterns) - {"login/", "logout/"} <= tried


@pytest.mark.parametrize("who", ["anonymous", "clinic user", "inactive staff"])
@pytest.mark.parametrize("path", PAGES)
def test_staff_pages_send_anyone_else_to_the_login_page(users, who, path):
    response = as_user(users, who).get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("who", ["anonymous", "clinic user", "inactive staff"])
def test_the_pages_json_endpoints_refuse_anyone_else_with_a_403(users, who):
    client = as_user(users, who)
    responses = [client.get(path) for path in JSON_GETS]
    responses += [client.post(path, {}, content_type="application/json") for path in JSON_POSTS]

    for response in responses:
        assert response.status_code == 403
        assert response.json() == {"error": LOGIN_REQUIRED}


@pytest.mark.parametrize("who", ["anonymous", "clinic user", "inactive staff"])
@pytest.mark.parametrize("path", ADMIN)
def test_the_admin_sends_anyone_else_to_its_login(users, who, path):
    response = as_user(users, who).get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_get_the_pages_and_the_admin_only_what_their_permissions_allow(
    users, django_user_model
):
    client = as_user(users, "staff")

    for path in [*PAGES, "/admin/"]:
        assert client.get(path).status_code == 200, path
    # Staff without the model's view permission see no customers; a superuser does.
    assert client.get("/admin/accounts/customer/").status_code == 403
    admin = django_user_model.objects.create_superuser("root", password=PASSWORD)
    client.force_login(admin)
    assert client.get("/admin/accounts/customer/").status_code == 200


@pytest.mark.parametrize("who", ["clinic user", "inactive staff"])
def test_the_login_page_refuses_non_staff_credentials(users, who):
    client = Client()
    response = client.post("/login/", {"username": users[who].username, "password": PASSWORD})

    assert response.status_code == 200  # the form again, with its error
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


# --- CSRF ------------------------------------------------------------------------------------


def csrf_client(users=None, who=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if who is not None:
        client.force_login(users[who])
    return client


def test_the_login_form_needs_its_csrf_token(users):
    client = csrf_client()

    refused = client.post("/login/", {"username": "staffer", "password": PASSWORD})
    assert refused.status_code == 403
    assert "_auth_user_id" not in client.session

    client.get("/login/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        "/login/", {"username": "staffer", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert accepted.status_code == 302


@pytest.mark.parametrize("path", JSON_POSTS)
def test_a_staff_sessions_post_without_the_csrf_token_is_refused(users, path):
    client = csrf_client(users, "staff")

    response = client.post(path, {}, content_type="application/json")

    assert response.status_code == 403
    assert b"CSRF" in response.content


def test_a_staff_sessions_post_with_the_csrf_token_is_served(users):
    client = csrf_client(users, "staff")
    client.get("/")  # the page's <meta name="csrf-token"> and cookie
    token = client.cookies["csrftoken"].value

    response = client.post(
        "/try/credentials", {}, content_type="application/json", headers={"X-CSRFToken": token}
    )

    assert response.status_code == 200
    assert set(response.json()) >= {"api_key", "jwt"}


def test_logout_and_admin_posts_need_the_csrf_token(users):
    client = csrf_client(users, "staff")

    assert client.post("/logout/").status_code == 403
    assert client.post("/admin/logout/").status_code == 403
    assert client.post("/admin/accounts/customer/add/", {"name": "Sneaky"}).status_code == 403


def test_a_staff_session_is_no_credential_for_the_apis(users):
    """So the APIs, which take no cookies, need no CSRF token."""
    client = csrf_client(users, "staff")

    cxr = client.post("/cxr/single_inference", {}, content_type="application/json")
    vhs = client.get("/vhs/v3/health")

    assert cxr.status_code == 401
    assert cxr.json()["Message"] == "Token missing"
    assert vhs.status_code == 403
    assert vhs.json() == {"error": "Invalid API key"}
