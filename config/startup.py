"""Checks that run when a server process starts, before it accepts work."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def require_secret_key() -> None:
    """Refuse to serve with the placeholder key unless DEBUG says this is a development box.

    Settings fall back to a placeholder so that management commands run on a fresh checkout;
    a server signing sessions and tokens with a published key would be a security hole.
    """
    if settings.SECRET_KEY == settings.INSECURE_PLACEHOLDER_SECRET_KEY and not settings.DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Refusing to start a production server without it: set "
            "SECRET_KEY in the environment to a long random string (see platform/env.example; "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'` makes one), or "
            "set DEBUG=true on a development machine."
        )
