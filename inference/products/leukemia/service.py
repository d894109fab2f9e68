"""The leukemia product's service: classify on a worker, then record the call.

The API is public; a call made with a valid API key carries an identity, so its usage is
recorded (at the customer's leukemia price, zero unless staff configured one) and staff see
it in admin.  Anonymous calls have no one to record them for.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from rest_framework.request import Request

from accounts.authentication import api_key_from_request
from billing import engine
from inference.api.images import CheckedImage
from inference.api.inference import run_items
from inference.products.leukemia.apps import LeukemiaConfig

PRODUCT = LeukemiaConfig.product


async def classify(request: Request, image: CheckedImage) -> dict[str, Any]:
    """The worker's classification of ``image``; the call is recorded when it has a key."""
    (result,) = await run_items(PRODUCT, [image.item()])
    await sync_to_async(settle)(request)
    return result


def settle(request: Request) -> engine.BillingDecision | None:
    api_key = api_key_from_request(request)
    if api_key is None:
        return None
    return engine.record(
        customer=api_key.customer,
        api_key=api_key,
        product=PRODUCT,
        endpoint=request.path,
        call_type="single",
        result_code=None,
        request_id=getattr(request, "request_id", ""),
    )
