"""One image through the VHS models, on the worker: classify, measure, render.

The radiograph classifier runs first; only an image it accepts goes through the landmark
ensemble (a rejected photo costs one small forward pass).  The analysis (ensemble mean,
spread, VHS/VLAS, result code) is pure Python from ``analysis``; rendering from ``render``.
The evaluation command measures through this same function.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from inference.products.vhs.analysis import FrameResult, analyse_outputs, rejection
from inference.products.vhs.render import render


def measure_frame(models: Any, item: dict[str, Any], deadline: float | None) -> FrameResult:
    """The analysed result of ``item["image"]`` (models: a ``ProductRuntime``)."""
    image = item["image"]
    probability = models.predict("radiograph", item, deadline)["probability"]
    rejected = rejection(probability)
    if rejected is not None:
        return rejected
    rows = models.predict("landmarks", item, deadline)["member_rows"]
    return analyse_outputs(probability, rows, *image.size)


def measure(models: Any, item: dict[str, Any], deadline: float | None) -> dict[str, Any]:
    """The worker's answer for one VHS image: the frame, and the rendered image if asked."""
    frame = measure_frame(models, item, deadline)
    result: dict[str, Any] = {"frame": dataclasses.asdict(frame)}
    if item.get("render") and not frame.rejected:
        result["rendered_image"] = render(item["image"], frame, item.get("format", "PNG"))
    return result
