"""``/cxr/``: the seed's path under the prefix, and the upload addition."""

from django.urls import path

from inference.products.cxr import views

app_name = "cxr"

urlpatterns = [
    path("single_inference", views.SingleInferenceView.as_view(), name="single-inference"),
    path("single_inference/", views.SingleInferenceView.as_view(), name="single-inference-slash"),
    path("single_inference/upload", views.UploadView.as_view(), name="upload"),
]
