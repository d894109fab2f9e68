"""The VHS product's Channels routes, under ``/vhs/v3/`` (``config.routing`` mounts them)."""

from django.urls import path

from inference.products.vhs.consumers import PopSessionConsumer
from inference.products.vhs.stream import PredictStreamConsumer

# Served before Django: the stream's events leave as each image finishes.
http_urlpatterns = [
    path("predict/stream", PredictStreamConsumer.as_asgi()),
    path("predict/stream/", PredictStreamConsumer.as_asgi()),
]

# Mounted under ws/ (config.routing): ws/vhs/v3/pop-session/<session_id>.
websocket_urlpatterns = [
    path("pop-session/<str:session_id>", PopSessionConsumer.as_asgi()),
]
