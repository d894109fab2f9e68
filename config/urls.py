"""URL map of the platform (see DESIGN.md, URL map).

Each declared product is mounted under its own prefix (``ProductConfig.url_prefix``); the
platform's own pages come first.
"""

import re

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.token_views import ThrottledTokenObtainPairView, ThrottledTokenRefreshView
from config.health import HealthView
from config.metrics import metrics_view
from inference.api.views import UnknownPathView
from inference.runtime.product import products

PLATFORM_PATTERNS = [
    # The staff web pages: /, /login/, /logout/, /try/... (web/urls.py).
    path("", include("web.urls")),
    path("health/", HealthView.as_view(), name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its initialiser as a script of its own: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    # simplejwt's views, failures throttled per IP and username (accounts.token_views).
    path("auth/token/", ThrottledTokenObtainPairView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", ThrottledTokenRefreshView.as_view(), name="token-refresh"),
]


def build_urlpatterns() -> list:
    """The platform's pages, then every declared product under its prefix, where a path the
    product does not serve is a JSON 404 in the product's envelope, never an HTML page."""
    patterns = list(PLATFORM_PATTERNS)
    for config in products():
        patterns += [
            path(config.url_prefix, include(config.urls)),
            re_path(rf"^{re.escape(config.url_prefix)}", UnknownPathView.as_view()),
        ]
    return patterns


urlpatterns = build_urlpatterns()
