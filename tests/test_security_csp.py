"""A Content-Security-Policy on every HTML page (django-csp): scripts from the platform's own
origin only, never inline; and the pages (staff, admin, API docs) run under it.

The in-process tests read the header and every page's HTML (no inline script, no inline event
handler); the browser test loads each page in Chromium and fails on any CSP violation the
browser reports, and on an API docs page that did not draw."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

STAFF_PAGES = ["/", "/try/leukemia/", "/try/cxr/", "/try/pop/", "/try/vhs/"]
ADMIN_PAGES = [
    "/admin/",
    "/admin/accounts/customer/",
    "/admin/accounts/customer/add/",
    "/admin/accounts/apikey/",
    "/admin/billing/usageevent/",
]
PUBLIC_PAGES = ["/login/", "/admin/login/", "/api/docs/"]
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.IGNORECASE | re.DOTALL)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = (part.strip().split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.fixture
def superuser_client(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    return client


def html_pages(client) -> dict[str, str]:
    """Each page, the logged-in ones as a superuser, the public ones anonymously."""
    pages = {}
    for path in STAFF_PAGES + ADMIN_PAGES + PUBLIC_PAGES:
        response = (Client() if path in PUBLIC_PAGES else client).get(path)
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/html"), path
        pages[path] = response
    return pages


def test_every_html_page_has_a_policy_with_scripts_from_self_only(superuser_client):
    for path, response in html_pages(superuser_client).items():
        directives = policy(response)
        assert directives["script-src"] == ["'self'"], path
        assert directives["default-src"] == ["'self'"], path
        assert directives["object-src"] == ["'none'"], path
        assert directives["frame-ancestors"] == ["'none'"], path
        assert "'unsafe-eval'" not in response["Content-Security-Policy"], path


def test_no_page_has_an_inline_script_or_event_handler(superuser_client):
    """An inline one would be blocked by the policy: the page would break in a browser."""
    for path, response in html_pages(superuser_client).items():
        html = response.content.decode()
        for attributes, body in SCRIPT.findall(html):
            data_block = re.search(r"""type\s*=\s*["']application/(ld\+)?json""", attributes)
            assert "src=" in attributes or data_block or not body.strip(), (path, body[:200])
        assert not EVENT_HANDLER.search(html), (path, EVENT_HANDLER.search(html).group(0))
        assert not JAVASCRIPT_URL.search(html), path


def test_the_api_docs_initialiser_is_a_script_of_its_own():
    client = Client()
    html = client.get("/api/docs/").content.decode()
    sources = re.findall(r'<script src="([^"]+)"', html)
    initialiser = next(src for src in sources if "script" in src and "sidecar" not in src)

    response = client.get(initialiser)

    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
    assert b"SwaggerUIBundle" in response.content


def test_json_answers_carry_the_policy_too():
    """Harmless on JSON, and an API answer opened in a browser runs nothing either."""
    response = Client().get("/vhs/v3/health")

    assert policy(response)["default-src"] == ["'self'"]


# --- in Chromium ---------------------------------------------------------------------------

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_pages_run_under_the_policy_in_chromium(staff_page):
    page = staff_page.page
    page.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))

    seen = {}
    for path in [*STAFF_PAGES, "/admin/", "/api/docs/"]:
        page.goto(staff_page.url(path))
        page.wait_for_load_state("networkidle")
        if path == "/api/docs/":
            page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
        seen[path] = page.evaluate("window.__cspViolations")

    assert all(violations == [] for violations in seen.values()), seen
    assert not [text for text in console if "Content Security Policy" in text], console
