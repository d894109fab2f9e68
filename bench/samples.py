"""Request payloads for benchmarks: phantom images as the leukemia API takes them."""

from __future__ import annotations

import base64
import io


def leukemia_payloads(n: int, first_seed: int) -> list[dict[str, str]]:
    """``n`` ``{"image_base64": ...}`` bodies of PNG phantoms, the four classes in turn."""
    from inference.phantoms.leukemia import CLASSES, draw_cell

    payloads = []
    for i in range(n):
        buffer = io.BytesIO()
        draw_cell(CLASSES[i % len(CLASSES)], seed=first_seed + i).image.save(buffer, format="PNG")
        payloads.append({"image_base64": base64.b64encode(buffer.getvalue()).decode("ascii")})
    return payloads
