"""ASGI entry point served by daphne: HTTP through Django, WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Django must be set up before anything imports models (consumers, routing).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from config.body_limit import BodySizeLimitMiddleware  # noqa: E402
from config.daphne_requests import leave_form_bodies_to_django  # noqa: E402
from config.routing import http_router, websocket_urlpatterns  # noqa: E402
from config.startup import require_secret_key  # noqa: E402
from inference.runtime.memory import return_large_blocks_to_the_system  # noqa: E402

require_secret_key()
# Malformed form bodies reach Django's parsers (and the product's envelope), not Twisted's.
leave_form_bodies_to_django()
# Freed image-sized blocks go back to the system instead of staying in glibc's heaps.
return_large_blocks_to_the_system()

if settings.CELERY_TASK_ALWAYS_EAGER:
    # Without a broker this process is also the worker: load the models before serving,
    # as a worker does at start, so the first request is not the slow one.
    from inference.runtime import registry

    registry.load_all()

application = ProtocolTypeRouter(
    {
        # Each endpoint's body limit (config.body_limit), checked before Django reads a byte.
        "http": BodySizeLimitMiddleware(http_router(django_asgi_app)),
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)
