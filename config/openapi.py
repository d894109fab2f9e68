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
