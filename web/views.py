"""The staff pages and the few endpoints only they use (``docs/web.md``).

Pages are plain Django views behind the staff login; what they show comes from the public
APIs, called by the page's JavaScript with the credentials ``POST /try/credentials`` hands
out.  None of these views is part of the API schema (they are not DRF views).
"""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import APIException

from inference.phantoms import cxr as cxr_phantoms
from inference.phantoms import leukemia as leukemia_phantoms
from inference.products.vhs import session_tickets
from inference.runtime.product import products
from web import credentials, samples
from web.access import staff_json, staff_page

# --- login -------------------------------------------------------------------------------------

#: Django's login, refusing accounts that are not active staff (as admin's login does).
login = auth_views.LoginView.as_view(
    template_name="web/login.html",
    authentication_form=AdminAuthenticationForm,
    redirect_authenticated_user=False,
)
logout = auth_views.LogoutView.as_view()


# --- pages -------------------------------------------------------------------------------------

#: The try pages of each product (by its ``product`` name), as (label, URL name): the home
#: page links those that are routed.
TRY_PAGES = {
    "leukemia": [("Try it", "web:try-leukemia")],
    "cxr": [("Try it", "web:try-cxr")],
    "vhs": [("Try it", "web:try-vhs"), ("PoP capture session", "web:try-pop")],
}


def _routed(pages: list[tuple[str, str]]) -> list[dict[str, str]]:
    links = []
    for label, name in pages:
        try:
            links.append({"label": label, "url": reverse(name)})
        except NoReverseMatch:
            continue
    return links


def _page(template: str, **context: Any):
    @never_cache
    @staff_page
    def view(request: HttpRequest) -> HttpResponse:
        return render(request, template, context)

    return view


@never_cache
@staff_page
def home(request: HttpRequest) -> HttpResponse:
    cards = [
        {
            "product": config.product,
            "name": config.verbose_name,
            "description": config.openapi_description,
            "prefix": "/" + config.url_prefix,
            "links": _routed(TRY_PAGES.get(config.product, [])),
        }
        for config in products()
    ]
    return render(request, "web/home.html", {"products": cards})


try_leukemia = _page("web/try_leukemia.html", classes=leukemia_phantoms.CLASSES)
try_cxr = _page("web/try_cxr.html", findings=cxr_phantoms.FINDINGS)
try_pop = _page("web/try_pop.html")


# --- endpoints the pages call ------------------------------------------------------------------


@never_cache
@require_POST
@staff_json
async def page_credentials(request: HttpRequest) -> HttpResponse:
    """``{"api_key", "jwt", "expires_in"}`` for the internal customer (see web.credentials)."""
    user = await request.auser()
    issued = await sync_to_async(credentials.page_credentials)(user)
    return JsonResponse(issued.as_json())


@never_cache
@require_POST
@staff_json
async def pop_ticket(request: HttpRequest) -> HttpResponse:
    """A single-use WebSocket ticket for one of the internal customer's PoP sessions."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "Body must be JSON"}, status=400)
    session_id = body.get("session_id") if isinstance(body, dict) else None
    if not isinstance(session_id, str) or not session_id or len(session_id) > 64:
        return JsonResponse({"error": "session_id is required"}, status=400)

    def issue() -> dict[str, Any]:
        return session_tickets.issue_ticket(credentials.console_customer(), None, session_id)

    try:
        ticket = await sync_to_async(issue)()
    except APIException as exc:
        return JsonResponse({"error": str(exc.detail)}, status=exc.status_code)
    return JsonResponse(ticket)


@never_cache
@require_GET
@staff_json
async def sample(request: HttpRequest, kind: str) -> HttpResponse:
    """A generated phantom for a page (``web.samples``), drawn in a worker thread."""
    generator = samples.SAMPLES.get(kind)
    if generator is None:
        return JsonResponse({"error": f"No sample generator for {kind!r}"}, status=404)
    try:
        body = await sync_to_async(generator, thread_sensitive=False)(request.GET.dict())
    except samples.BadSampleRequest as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(body)
