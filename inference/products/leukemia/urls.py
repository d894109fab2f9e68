"""``/leukemia/``: the seed's paths unchanged under the prefix.

Each path also answers with a trailing slash (clients differ); the schema lists the seed's
spelling only (``config.openapi.drop_trailing_slash_aliases``).
"""

from django.urls import path

from inference.products.leukemia import views

app_name = "leukemia"

_routes = [
    ("predict", views.PredictBase64View, "predict"),
    ("predict/upload", views.PredictUploadView, "predict-upload"),
    ("health", views.HealthView, "health"),
]

urlpatterns = [path("", views.InformationView.as_view(), name="information")]
for route, view, name in _routes:
    urlpatterns += [
        path(route, view.as_view(), name=name),
        path(f"{route}/", view.as_view(), name=f"{name}-slash"),
    ]
