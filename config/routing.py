"""Channels routes: each declared product's consumers, mounted under its URL prefix.

A product lists them in ``<package>.routing`` (``ProductConfig.asgi_routes``): streaming HTTP
endpoints (``http_urlpatterns``, served before Django) and WebSockets
(``websocket_urlpatterns``).  Their paths are relative to the product's prefix; WebSockets
are mounted under ``ws/`` before it (``ws/<prefix><path>``), so that a proxy or load
balancer can send every WebSocket upgrade to WebSocket-capable upstreams by path alone.
"""

from __future__ import annotations

from typing import Any

from channels.routing import URLRouter
from django.urls import URLPattern, URLResolver, path

from inference.runtime.product import products

#: What comes before a product's prefix, by kind of route.
MOUNTS = {"http": "", "websocket": "ws/"}


def product_routes(kind: str) -> list[URLPattern | URLResolver]:
    """Every product's ``kind`` routes, each product's under its ``url_prefix``."""
    routes: list[URLPattern | URLResolver] = []
    for config in products():
        patterns = config.asgi_routes(kind)
        if patterns:
            routes.append(path(MOUNTS[kind] + config.url_prefix, URLRouter(patterns)))
    return routes


def http_router(django_app: Any) -> Any:
    """The products' streaming HTTP consumers first; every other path goes to Django."""
    routes = product_routes("http")
    if not routes:
        return django_app
    return URLRouter([*routes, path("", django_app), path("<path:rest>", django_app)])


websocket_urlpatterns: list[URLPattern | URLResolver] = product_routes("websocket")
