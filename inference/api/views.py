"""The base of every product's API views: async, and answering errors in the product's envelope.

Views are ``async`` (adrf): checking an image runs in a worker thread, inference on a Celery
worker, and the view awaits the result without holding a thread
(``inference.runtime.dispatch``).  They never import torch.
"""

from __future__ import annotations

from typing import Any, ClassVar

from adrf.views import APIView

from inference.api.errors import ErrorEnvelope


class ProductView(APIView):
    """Set ``envelope`` to the product's ``ErrorEnvelope``; every exception leaves through it."""

    envelope: ClassVar[ErrorEnvelope]

    def get_exception_handler(self) -> Any:
        envelope = self.envelope

        def handler(exc: Exception, context: dict[str, Any]) -> Any:
            return envelope.response(exc, context.get("request"))

        return handler
