"""``/vhs/v3/``: the seed's v3 paths under the prefix (``/vhs`` replaces the seed's host).

``predict/stream`` is answered by a Channels consumer (``routing``) before Django; its view
here declares its body limit and documents it.
"""

from django.urls import include, path

from inference.products.vhs import corrections_views, pop_views, report_views, views

app_name = "vhs"


def _both(route: str, view: object, name: str) -> list:
    """The seed's path, and the same with a trailing slash."""
    return [path(route, view, name=name), path(f"{route}/", view, name=f"{name}-slash")]


urlpatterns = [
    *_both("health", views.HealthView.as_view(), "health"),
    *_both("predict", views.PredictView.as_view(), "predict"),
    *_both("predict/stream", views.PredictStreamView.as_view(), "predict-stream"),
    *_both("corners", pop_views.CornersView.as_view(), "corners"),
    *_both("rectify", pop_views.RectifyView.as_view(), "rectify"),
    *_both("preprocess", pop_views.PreprocessView.as_view(), "preprocess"),
    *_both("corrections", corrections_views.CorrectionsView.as_view(), "corrections"),
    *_both("measurements", corrections_views.MeasurementsView.as_view(), "measurements"),
    *_both("report", report_views.ReportView.as_view(), "report"),
    path("", include("inference.products.vhs.session_urls")),
]
