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


#: The VHS radiograph every performance benchmark sends (an uncropped 609 x 648 phantom),
#: and the leukemia cell: the same bytes in-process and over HTTP.
VHS_SEED = 70_000
LEUKEMIA_SEED = 50_000


def vhs_png(seed: int = VHS_SEED) -> bytes:
    from inference.phantoms.vhs import draw_radiograph

    buffer = io.BytesIO()
    draw_radiograph(seed, crop=False).image.save(buffer, format="PNG")
    return buffer.getvalue()


def leukemia_png(seed: int = LEUKEMIA_SEED) -> bytes:
    return base64.b64decode(leukemia_payloads(1, seed)[0]["image_base64"])
