"""Hooks and extensions that shape the OpenAPI schema served at /api/schema/.

The schema documents every declared product (``describe_products``) and how a client
authenticates: ``x-api-key`` (``ApiKeyAuth``) and a JWT bearer token (``JWTAuth``).  Both
schemes are always declared, so Swagger UI's *Authorize* dialog can send either; an endpoint
lists the ones it accepts in its ``security``.  These extensions are registered when this
module is imported, which drf-spectacular does (for the hooks) before it inspects any view.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers

API_KEY_SCHEME = "ApiKeyAuth"
JWT_SCHEME = "JWTAuth"

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    API_KEY_SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "A customer's API key (`manage.py create_api_key`).",
    },
    JWT_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from `POST /auth/token/`; "
        "`Authorization: Bearer <token>` (a bare token is accepted too).",
    },
}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """``accounts.authentication.ApiKeyAuthentication``: the ``x-api-key`` header."""

    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = API_KEY_SCHEME

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return SECURITY_SCHEMES[API_KEY_SCHEME]


class JwtScheme(OpenApiAuthenticationExtension):
    """``accounts.authentication.BareOrBearerJWTAuthentication``: a bearer JWT."""

    target_class = "accounts.authentication.BareOrBearerJWTAuthentication"
    name = JWT_SCHEME
    # Above drf-spectacular's own simplejwt extension, which would name it ``jwtAuth``.
    priority = 1

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return SECURITY_SCHEMES[JWT_SCHEME]


# --- /auth/token/ and /auth/token/refresh/ (simplejwt's views, DRF's error bodies) -------------

AUTH_FAILED = OpenApiResponse(
    inline_serializer(
        "AuthFailed",
        {"detail": serializers.CharField(), "code": serializers.CharField(required=False)},
    ),
    description="Wrong credentials, or an invalid or expired refresh token.",
)
AUTH_INVALID = OpenApiResponse(
    {
        "type": "object",
        # Each field's messages; an unreadable body (malformed JSON or form) is DRF's
        # {"detail": message} instead.
        "additionalProperties": {
            "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
        },
        "example": {"username": ["This field is required."]},
    },
    description="Missing or invalid fields: each field's messages; or a body that cannot be "
    "read (`detail`).",
)
AUTH_THROTTLED = OpenApiResponse(
    inline_serializer("AuthThrottled", {"detail": serializers.CharField()}),
    description="Too many refused attempts from this address or for this username; "
    "retry after `Retry-After` seconds.",
)
AUTH_UNSUPPORTED = OpenApiResponse(
    inline_serializer("AuthUnsupportedMediaType", {"detail": serializers.CharField()}),
    description="A body that is not JSON, multipart/form-data or form-urlencoded.",
)


# simplejwt's serializers document neither that a blank field is refused nor what the answer
# holds (access and refresh, never the password), so the schema says it here.
def not_blank() -> serializers.RegexField:
    """Text DRF accepts, as the schema says it: no NUL, and not blank once trimmed
    (``CharField`` refuses both)."""
    return serializers.RegexField(r"^[^\x00]*[^\s\x00][^\x00]*$")


TOKEN_OBTAIN_REQUEST = inline_serializer(
    "TokenObtainRequest",
    {
        "username": not_blank(),
        "password": not_blank(),
    },
)
TOKEN_PAIR = inline_serializer(
    "TokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()}
)
TOKEN_REFRESH_REQUEST = inline_serializer("TokenRefreshRequest", {"refresh": not_blank()})
TOKEN_REFRESHED = inline_serializer(
    "TokenRefreshed",
    # With rotation on (SIMPLE_JWT), a new refresh token comes with the access token.
    {"access": serializers.CharField(), "refresh": serializers.CharField(required=False)},
)


def _documented_token_view(
    view: type, operation_id: str, summary: str, request: Any, answer: Any
) -> type:
    """``view`` with its body and every status it answers documented (drf-spectacular knows
    only 200, and reads simplejwt's serializers as both request and answer)."""

    class Documented(view):  # type: ignore[misc, valid-type]
        @extend_schema(
            summary=summary,
            operation_id=operation_id,
            request=request,
            responses={
                200: answer,
                400: AUTH_INVALID,
                401: AUTH_FAILED,
                415: AUTH_UNSUPPORTED,
                429: AUTH_THROTTLED,
            },
            tags=["auth"],
        )
        def post(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            return super().post(request, *args, **kwargs)

    return Documented


class TokenObtainPairViewSchema(OpenApiViewExtension):
    target_class = "rest_framework_simplejwt.views.TokenObtainPairView"
    # The platform serves it through a subclass that throttles failures (accounts.token_views).
    match_subclasses = True

    def view_replacement(self) -> type:
        return _documented_token_view(
            self.target, "auth_token", "Obtain a JWT pair", TOKEN_OBTAIN_REQUEST, TOKEN_PAIR
        )


class TokenRefreshViewSchema(OpenApiViewExtension):
    target_class = "rest_framework_simplejwt.views.TokenRefreshView"
    match_subclasses = True

    def view_replacement(self) -> type:
        return _documented_token_view(
            self.target,
            "auth_token_refresh",
            "Refresh a JWT access token",
            TOKEN_REFRESH_REQUEST,
            TOKEN_REFRESHED,
        )


def drop_trailing_slash_aliases(endpoints: list[tuple[str, Any, str, Any]], **_: Any) -> list:
    """Hide ``/x/`` when ``/x`` is also routed: the alias exists for clients, not for docs."""
    paths = {path for path, *_ in endpoints}
    return [
        endpoint
        for endpoint in endpoints
        if not (endpoint[0].endswith("/") and endpoint[0].rstrip("/") in paths)
    ]


def declare_security_schemes(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Every scheme in ``components.securitySchemes``, used by an endpoint yet or not: the docs
    page offers them all, and an endpoint's ``security`` may name one explicitly."""
    schemes = result.setdefault("components", {}).setdefault("securitySchemes", {})
    for name, definition in SECURITY_SCHEMES.items():
        schemes.setdefault(name, definition)
    return result


def describe_products(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """One tag per declared product, described by its declaration, in the API's description."""
    from inference.runtime.product import products

    declared = products()
    result["tags"] = [
        {"name": config.openapi_tag, "description": config.openapi_description}
        for config in declared
    ] + [
        tag
        for tag in result.get("tags", [])
        if tag["name"] not in {c.openapi_tag for c in declared}
    ]
    lines = [f"- `/{config.url_prefix}`: {config.openapi_description}" for config in declared]
    result["info"]["description"] = "\n\n".join([result["info"]["description"], *lines])
    return result
