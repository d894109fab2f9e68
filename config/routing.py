"""WebSocket routes. Products add their consumers here (PoP live capture, for one)."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
