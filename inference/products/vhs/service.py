"""The VHS product's services: ``measure`` images on the workers, ``settle`` the call.

Every VHS entry point (single and batch predict today; streaming and PoP sessions next) goes
through these two steps, so history and billing follow one rule wherever a frame came from:

* ``measure(images, render)``: each image is one task (the images of one call share the
  workers' forward passes) -> one ``Measured`` frame per image, in order.
* ``settle(...)``: the patient's history before this call, the best frame stored in it, and
  the call's usage and billing decision, in **one** database transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from accounts.models import ApiKey, Customer
from billing import engine
from inference.api.images import CheckedImage
from inference.api.inference import run_items
from inference.products.vhs import history
from inference.products.vhs.analysis import FrameResult, summarise
from inference.products.vhs.apps import VhsConfig

PRODUCT = VhsConfig.product


@dataclass(frozen=True)
class Measured:
    """One image's result from the workers."""

    frame: FrameResult
    rendered_image: str | None
    model_version: str
    #: The rectified screen of a PoP photo (base64 JPEG), when asked for.
    rectified_image: str | None = None


@dataclass(frozen=True)
class Settlement:
    """What settling a call decided: the history before it, and its billing."""

    history: tuple[list, list] | None
    billing: engine.BillingDecision
    #: The stored measurement's id (what ``POST corrections`` and ``report`` name), or None
    #: when nothing was stored (no uuid, or no measured frame).
    measurement_id: int | None = None


def measured(result: dict[str, Any]) -> Measured:
    """One worker result as the web tier reads it."""
    return Measured(
        FrameResult(**result["frame"]),
        result.get("rendered_image"),
        result["model"]["model_version"],
        result.get("rectified_image"),
    )


async def measure(
    images: list[CheckedImage], *, render: bool, rectified: bool = False
) -> list[Measured]:
    """Each image measured on the workers (a PoP photo rectified first); ``rectified`` also
    returns a PoP photo's rectified screen."""
    items = [image.item(render=render, rectified=rectified) for image in images]
    return [measured(result) for result in await run_items(PRODUCT, items)]


def settle(
    *,
    customer: Customer,
    api_key: ApiKey | None,
    frames: list[FrameResult],
    call_type: str,
    endpoint: str,
    uuid: str,
    model_version: str,
    request_id: str = "",
) -> Settlement:
    """History and billing of one call, in one transaction (see the module docstring).

    A session call (batch, stream, PoP) bills on its best frame; a single call on its frame.
    The whole transaction is retried after a transient failure (another writer's lock), so a
    concurrent call never turns a measurement into a lost charge.
    """

    summary = summarise(frames)
    best = frames[summary.best_index] if summary.best_index is not None else None
    result_code = summary.result_code if call_type == "session" else frames[0].result_code

    def once() -> Settlement:
        with transaction.atomic():
            past = history.previous_measurements(customer, uuid) if uuid else None
            stored = None
            if uuid and best is not None:
                stored = history.record_measurement(
                    customer,
                    uuid,
                    best.vhs,
                    best.vlas,
                    best.result_code,
                    model_version,
                    request_id,
                    landmarks=best.landmarks,
                    image_size=(best.width, best.height) if best.width and best.height else None,
                    spread=best.spread,
                )
            decision = engine.record(
                customer=customer,
                api_key=api_key,
                product=PRODUCT,
                endpoint=endpoint,
                call_type=call_type,
                result_code=result_code,
                patient_uuid=uuid,
                request_id=request_id,
            )
        return Settlement(past, decision, stored.pk if stored is not None else None)

    return engine.with_retries(once, what="settling a call")


def as_json(body: dict[str, Any]) -> dict[str, Any]:
    """Plain JSON types, as an idempotent replay stores and returns them."""
    return json.loads(json.dumps(body))
