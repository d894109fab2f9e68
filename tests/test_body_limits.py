"""Request bodies are limited per endpoint, from what its contract allows, in its envelope.

The ASGI middleware (``config.body_limit``) is driven directly, as daphne drives it, with a
downstream application that stands in for Django; no body has to be sent to check a
``Content-Length``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from config.body_limit import BodySizeLimitMiddleware, endpoint_limit
from inference.api.limits import Base64Images, UploadedImages, base64_length
from inference.products.leukemia.views import PredictBase64View, PredictUploadView
from inference.products.vhs.views import PredictView

MB = 1024 * 1024


def _ten_images_of_ten_mb() -> int:
    """The JSON of a full legal VHS batch: ten base64 images of exactly 10 MB."""
    one_character = len(json.dumps({"images": ["A"] * 10, "uuid": "x" * 128}))
    return one_character + 10 * (4 * -(-10 * MB // 3) - 1)


async def _call(path: str, chunks: list[bytes], content_length: int | None) -> dict[str, Any]:
    """What the middleware answers for a POST to ``path``; the app behind reads the body."""
    headers = [(b"content-type", b"application/json")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: dict, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    await BodySizeLimitMiddleware(app)(scope, receive, send)
    return {"status": sent[0]["status"], "body": json.loads(sent[1]["body"])}


def call(path: str, content_length: int | None, chunks: list[bytes] | None = None) -> dict:
    return asyncio.run(_call(path, chunks or [b"{}"], content_length))


def test_a_full_legal_vhs_batch_is_within_the_predict_endpoints_limit():
    limit, _ = endpoint_limit("/vhs/v3/predict")

    assert limit == Base64Images(10).max_body_bytes() == PredictView.body_limit.max_body_bytes()
    assert _ten_images_of_ten_mb() <= limit < 150 * MB
    assert call("/vhs/v3/predict", _ten_images_of_ten_mb())["status"] == 200


def test_base64_wrapped_at_76_columns_is_allowed_for():
    """``base64`` on the command line wraps; each JSON-escaped CRLF takes 4 characters."""
    text = 4 * -(-10 * MB // 3)
    assert base64_length(10 * MB) == text + 4 * -(-text // 76)


def test_a_body_over_the_batch_limit_is_a_413_in_the_vhs_envelope():
    limit = Base64Images(10).max_body_bytes()

    answer = call("/vhs/v3/predict", limit + 1)

    assert answer == {
        "status": 413,
        "body": {
            "error": f"Request body exceeds the maximum of {limit} bytes "
            "(10 images of 10 MB, base64)"
        },
    }


def test_a_chunked_body_is_stopped_once_it_grows_past_the_limit(settings):
    settings.IMAGE_MAX_BYTES = 1000
    limit = Base64Images(10).max_body_bytes()

    answer = call("/vhs/v3/predict", None, [b"x" * 8192] * (limit // 8192 + 2))

    assert answer["status"] == 413
    assert answer["body"]["error"].startswith(f"Request body exceeds the maximum of {limit}")


def test_the_limit_follows_the_image_size_setting(settings):
    settings.IMAGE_MAX_BYTES = 1 * MB

    assert endpoint_limit("/vhs/v3/predict")[0] == Base64Images(10).max_body_bytes() < 15 * MB


def test_leukemia_bodies_are_limited_to_one_image_in_the_leukemia_envelope():
    base64_limit = PredictBase64View.body_limit.max_body_bytes()
    upload_limit = PredictUploadView.body_limit.max_body_bytes()

    answer = call("/leukemia/predict", base64_limit + 1)

    assert base64_limit == Base64Images(1).max_body_bytes() < 15 * MB
    assert upload_limit == UploadedImages(1).max_body_bytes() < 11 * MB
    assert endpoint_limit("/leukemia/predict/upload")[0] == upload_limit
    assert answer["status"] == 413
    body = answer["body"]
    assert (body["status_code"], body["success"], body["error_code"]) == (
        413,
        False,
        "PAYLOAD_TOO_LARGE",
    )
    assert body["error"] == (
        f"Request body exceeds the maximum of {base64_limit} bytes (1 image of 10 MB, base64)"
    )


@pytest.mark.parametrize("path", ["/vhs/v3/health", "/vhs/v3/no-such-endpoint"])
def test_other_paths_of_a_product_keep_the_global_limit_in_its_envelope(path, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1000

    answer = call(path, 1001)

    assert answer == {
        "status": 413,
        "body": {"error": "Request body exceeds the maximum of 1000 bytes"},
    }


def test_the_platforms_own_paths_keep_the_global_limit_in_drfs_shape(settings):
    settings.MAX_REQUEST_BODY_BYTES = 1000

    assert call("/health/", 1001) == {
        "status": 413,
        "body": {"detail": "Request body exceeds the maximum of 1000 bytes"},
    }
    assert call("/health/", 1000)["status"] == 200


@pytest.mark.django_db
def test_django_reads_a_legal_batch_larger_than_the_global_limit(client):
    """Django's own body check is one number for every path; it must not refuse a legal
    batch (here eleven 5 MB images, so the serializer answers, not the models)."""
    from accounts.models import ApiKey, Customer

    raw_key = ApiKey.issue(Customer.objects.create(name="Big batches"))[1]
    body = json.dumps({"images": ["A" * (5 * MB)] * 11})
    assert len(body) > 50 * MB

    response = client.post(
        "/vhs/v3/predict",
        body,
        content_type="application/json",
        headers={"x-api-key": raw_key, "Idempotency-Key": "big-1"},
    )

    assert response.status_code == 400
    assert response.json() == {"error": "Batch size exceeds maximum of 10 images"}


def test_a_finished_large_request_leaves_nothing_of_its_body_behind():
    """DRF's request, the view, the serializer and tracebacks refer to one another; without
    help a body and its parsed JSON would wait for Python's next full collection (daphne
    kept 300 MB more with every full VHS batch).  Here: 12 MB that is not base64."""
    import gc
    import tracemalloc

    from django.core.asgi import get_asgi_application

    platform = BodySizeLimitMiddleware(get_asgi_application())
    body = json.dumps({"image_base64": "@" * (12 * MB)}).encode()

    async def post() -> int:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/leukemia/predict",
            "query_string": b"",
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.9", 1),
            "server": ("testserver", 80),
        }
        chunks = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            if chunks:
                return chunks.pop()
            await asyncio.Event().wait()  # the client stays connected
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await platform(scope, receive, send)
        return sent[0]["status"]

    asyncio.run(post())  # imports, caches and thread pools settle first
    gc.collect()
    gc.disable()  # only what the request releases by itself counts
    tracemalloc.start()
    try:
        status = asyncio.run(post())
        left_behind, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()

    assert status == 400
    assert left_behind < 2 * MB
