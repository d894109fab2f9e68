"""Hooks that shape the OpenAPI schema served at /api/schema/."""

from __future__ import annotations

from typing import Any


def drop_trailing_slash_aliases(endpoints: list[tuple[str, Any, str, Any]], **_: Any) -> list:
    """Hide ``/x/`` when ``/x`` is also routed: the alias exists for clients, not for docs."""
    paths = {path for path, *_ in endpoints}
    return [
        endpoint
        for endpoint in endpoints
        if not (endpoint[0].endswith("/") and endpoint[0].rstrip("/") in paths)
    ]


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
