"""Who may use the staff pages: active staff, logged in with Django's session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import user_passes_test
from django.http import HttpRequest, HttpResponse, JsonResponse

LOGIN_REQUIRED = "Log in as staff at /login/ to use this page."


def is_staff(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff)


#: Pages: anyone else is sent to the login page.
staff_page = user_passes_test(is_staff, login_url="web:login")


def staff_json(view: Callable[..., Awaitable[HttpResponse]]) -> Callable[..., Awaitable[Any]]:
    """An async JSON endpoint of the pages: anyone but staff gets a 403 in JSON, never a
    redirect a ``fetch`` would follow into an HTML login page."""

    @wraps(view)
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_staff(await request.auser()):
            return JsonResponse({"error": LOGIN_REQUIRED}, status=403)
        return await view(request, *args, **kwargs)

    return wrapper
