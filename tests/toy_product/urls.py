from django.urls import path

from tests.toy_product import views

app_name = "toy"

urlpatterns = [path("predict", views.PredictView.as_view(), name="predict")]
