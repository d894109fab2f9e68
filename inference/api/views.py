"""The base of every product's API views: async, and answering errors in the product's envelope.

Views are ``async`` (adrf): checking an image runs in a worker thread, inference on a Celery
worker, and the view awaits the result without holding a thread
(``inference.runtime.dispatch``).  They never import torch.
"""

from __future__ import annotations

from typing import Any, ClassVar

from adrf.views import APIView
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from accounts.throttling import guard_api_key
from inference.api.errors import ErrorEnvelope
from inference.api.limits import BodyLimit
from inference.runtime.product import product_for_path


class ProductView(APIView):
    """Every exception leaves through the envelope of the product whose prefix the request is
    under (its declaration's ``envelope``); ``envelope`` may name one explicitly instead."""

    envelope: ClassVar[ErrorEnvelope | None] = None
    #: What the endpoint's body may carry (``inference.api.limits``); ``config.body_limit``
    #: refuses a larger body before Django reads it.  None: ``MAX_REQUEST_BODY_BYTES``.
    body_limit: ClassVar[BodyLimit | None] = None
    #: Whether wrong ``x-api-key`` values sent here count and are throttled (False only where
    #: no key is ever looked at).
    guards_api_key: ClassVar[bool] = True

    def error_envelope(self) -> ErrorEnvelope:
        if self.envelope is not None:
            return self.envelope
        declaration = product_for_path(self.request.path)
        if declaration is None:
            raise LookupError(f"no product serves {self.request.path}")
        return declaration.error_envelope()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before authentication: an IP that has spent its wrong-key allowance is refused
        # (429) whatever it sends, health included; a wrong key counts (accounts.throttling).
        if self.guards_api_key:
            guard_api_key(request)
        super().initial(request, *args, **kwargs)

    def get_exception_handler(self) -> Any:
        envelope = self.error_envelope()

        def handler(exc: Exception, context: dict[str, Any]) -> Any:
            return envelope.response(exc, context.get("request"))

        return handler


@extend_schema(exclude=True)
class UnknownPathView(ProductView):
    """Any path under a product's prefix that it does not serve: a 404 in its envelope."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    guards_api_key = False  # no key is looked at: nothing to guess here

    async def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        raise NotFound(f"No endpoint at {request.path}")

    post = put = patch = delete = head = get
