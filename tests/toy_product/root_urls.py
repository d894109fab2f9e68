"""The platform's URL map, built while the toy product is installed (see the fixture)."""

from config.urls import build_urlpatterns

urlpatterns = build_urlpatterns()
