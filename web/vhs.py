"""The VHS page, ``/try/vhs/``: radiographs measured through the public VHS API, landmark
correction, the report (``docs/web.md``; the page's code is ``web/static/web/vhs.js``).

Mounted by one line of ``web/urls.py`` (``path("try/vhs/", include("web.vhs"))``), in the
``web`` namespace: the page (``web:try-vhs``) and its sample generator
(``web:try-vhs-sample``, ``GET /try/vhs/sample?vhs=&vlas=&seed=&count=``), which draws
phantom radiographs with a chosen VHS and VLAS (``inference.phantoms.vhs``).
"""

from __future__ import annotations

import base64
import io
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from inference.phantoms import vhs as phantoms
from web.access import staff_json, staff_page
from web.samples import BadSampleRequest, number_param, seed_param

MAX_SAMPLES = 10


@never_cache
@staff_page
def page(request: HttpRequest) -> HttpResponse:
    context = {
        "vhs_range": phantoms.VHS_RANGE,
        "vlas_range": phantoms.VLAS_RANGE,
        "max_images": MAX_SAMPLES,
    }
    return render(request, "web/try_vhs.html", context)


def draw_samples(params: dict[str, str]) -> dict[str, Any]:
    """``count`` phantom radiographs (PNG) of the same heart size, seeds ``seed``, ``seed+1``…"""
    vhs = number_param(params.get("vhs"), "vhs", *phantoms.VHS_RANGE)
    vlas = number_param(params.get("vlas"), "vlas", *phantoms.VLAS_RANGE)
    seed = seed_param(params.get("seed"))
    count = number_param(params.get("count"), "count", 1, MAX_SAMPLES)
    if count is not None and count != int(count):
        raise BadSampleRequest("count must be a whole number")
    images = []
    for offset in range(int(count or 1)):
        phantom = phantoms.draw_radiograph(seed + offset, vhs=vhs, vlas=vlas, crop=False)
        buffer = io.BytesIO()
        phantom.image.save(buffer, format="PNG")
        images.append(
            {
                "image": base64.b64encode(buffer.getvalue()).decode("ascii"),
                "media_type": "image/png",
                "filename": f"phantom-vhs-{seed + offset}.png",
                "truth": {
                    "seed": seed + offset,
                    "vhs": phantom.truth["vhs"],
                    "vlas": phantom.truth["vlas"],
                },
            }
        )
    return {"images": images}


@never_cache
@require_GET
@staff_json
async def sample(request: HttpRequest) -> HttpResponse:
    try:
        body = await sync_to_async(draw_samples, thread_sensitive=False)(request.GET.dict())
    except BadSampleRequest as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(body)


urlpatterns = [
    path("", page, name="try-vhs"),
    path("sample", sample, name="try-vhs-sample"),
]
