"""``/vhs/v3/pop-session…``: the picture-of-picture capture sessions' paths (seed 002)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
