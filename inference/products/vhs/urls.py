"""``/vhs/v3/``: the seed's v3 paths under the prefix (``/vhs`` replaces the seed's host)."""

from django.urls import path

from inference.products.vhs import views

app_name = "vhs"

urlpatterns = [
    path("health", views.HealthView.as_view(), name="health"),
    path("health/", views.HealthView.as_view(), name="health-slash"),
    path("predict", views.PredictView.as_view(), name="predict"),
    path("predict/", views.PredictView.as_view(), name="predict-slash"),
]
