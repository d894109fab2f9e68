"""The leukemia API at /leukemia/: every documented success and error case (seed 000)."""

from __future__ import annotations

import base64
import io
import re
import struct
import zlib
from datetime import datetime

import pytest
from django.core.cache import cache
from PIL import Image

from accounts.models import ApiKey, Customer
from inference.phantoms.leukemia import draw_cell
from inference.products.leukemia.labels import CLASSES, DESCRIPTIONS, confidence_level
from inference.runtime import registry

pytestmark = pytest.mark.django_db

ENVELOPE_KEYS = {
    "status_code",
    "status",
    "success",
    "data",
    "timestamp",
    "api_version",
    "processing_time_ms",
}
ERROR_KEYS = {
    "status_code",
    "status",
    "success",
    "error",
    "error_code",
    "timestamp",
    "api_version",
    "processing_time_ms",
}


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def cell_png() -> bytes:
    return encode(draw_cell("Pre", seed=3).image)


def post_base64(client, payload, **headers):
    return client.post("/leukemia/predict", payload, content_type="application/json", **headers)


def assert_error(response, status_code: int, error_code: str) -> dict:
    body = response.json()
    assert response.status_code == status_code, body
    assert set(body) == ERROR_KEYS
    assert body["status_code"] == status_code
    assert body["status"] == "error"
    assert body["success"] is False
    assert body["error_code"] == error_code
    assert body["error"]
    assert "Traceback" not in response.content.decode()
    return body


# --- success -----------------------------------------------------------------------------------


def test_base64_prediction_returns_the_seed_envelope(client, cell_png):
    response = post_base64(client, {"image_base64": b64(cell_png)})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == ENVELOPE_KEYS
    assert (body["status_code"], body["status"], body["success"]) == (200, "success", True)
    assert body["api_version"] == "1.0.0"
    assert body["processing_time_ms"] > 0
    assert datetime.fromisoformat(body["timestamp"]).utcoffset().total_seconds() == 0
    data = body["data"]
    assert set(data) == {"prediction", "probabilities", "metadata"}
    prediction = data["prediction"]
    assert set(prediction) == {"predicted_class", "confidence", "confidence_level", "description"}
    assert set(data["probabilities"]) == set(CLASSES)
    # Four probabilities of three decimals each (as the seed writes them) sum to 1 +/- 0.002.
    assert sum(data["probabilities"].values()) == pytest.approx(1.0, abs=2e-3)
    assert prediction["confidence"] == max(data["probabilities"].values())
    assert prediction["predicted_class"] == max(
        data["probabilities"], key=data["probabilities"].get
    )
    assert prediction["confidence_level"] == confidence_level(prediction["confidence"])
    assert prediction["description"] == DESCRIPTIONS[prediction["predicted_class"]]
    assert data["metadata"] == {
        "image_size": "128x128",
        "model_version": "leukemia-ref-phantom-1.0",
        "device": "cpu",
        "model_source": "local",
    }


def test_a_data_url_prefix_is_accepted(client, cell_png):
    response = post_base64(client, {"image_base64": "data:image/png;base64," + b64(cell_png)})

    assert response.status_code == 200
    assert response.json()["success"] is True


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_file_upload_accepts_png_and_jpeg(client, fmt):
    data = encode(draw_cell("Benign", seed=8, size=150).image, fmt)
    upload = io.BytesIO(data)
    upload.name = "cell.bin"  # the format is decided by content, never by name

    response = client.post("/leukemia/predict/upload", {"file": upload})

    assert response.status_code == 200, response.json()
    assert response.json()["data"]["metadata"]["image_size"] == "150x150"


def test_a_clear_phantom_is_classified_as_its_class(client):
    hits = 0
    for seed, cell_class in enumerate(CLASSES * 3):
        data = encode(draw_cell(cell_class, seed=900_000 + seed).image)
        predicted = post_base64(client, {"image_base64": b64(data)}).json()["data"]["prediction"]
        hits += predicted["predicted_class"] == cell_class
    assert hits >= 10  # of 12; held-out accuracy is measured properly in test_reference_models


def test_paths_work_with_and_without_a_trailing_slash(client, cell_png):
    assert post_base64(client, {"image_base64": b64(cell_png)}).status_code == 200
    response = client.post(
        "/leukemia/predict/", {"image_base64": b64(cell_png)}, content_type="application/json"
    )
    assert response.status_code == 200
    assert client.get("/leukemia/health/").status_code == 200


# --- errors: the seed's table, and what users expect besides ------------------------------------


def test_no_image_is_a_400_no_image_provided(client):
    assert_error(post_base64(client, {}), 400, "NO_IMAGE_PROVIDED")
    assert_error(post_base64(client, {"image_base64": ""}), 400, "NO_IMAGE_PROVIDED")
    assert_error(client.post("/leukemia/predict/upload", {}), 400, "NO_IMAGE_PROVIDED")


def test_text_that_is_not_base64_is_an_invalid_image_format(client):
    body = assert_error(
        post_base64(client, {"image_base64": "this is not base64!"}), 400, "INVALID_IMAGE_FORMAT"
    )
    assert "base64" in body["error"]


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_formats_other_than_jpeg_and_png_are_refused_by_content(client, fmt):
    data = encode(Image.new("RGB", (64, 64), "purple"), fmt)

    assert_error(post_base64(client, {"image_base64": b64(data)}), 400, "INVALID_IMAGE_FORMAT")
    upload = io.BytesIO(data)
    upload.name = "looks-fine.png"
    assert_error(
        client.post("/leukemia/predict/upload", {"file": upload}), 400, "INVALID_IMAGE_FORMAT"
    )


def test_a_corrupted_png_is_an_invalid_image_format(client, cell_png):
    truncated = cell_png[: len(cell_png) // 2]

    assert_error(post_base64(client, {"image_base64": b64(truncated)}), 400, "INVALID_IMAGE_FORMAT")


def test_an_image_smaller_than_10x10_is_refused(client):
    data = encode(Image.new("RGB", (9, 40), "white"))

    body = assert_error(post_base64(client, {"image_base64": b64(data)}), 400, "IMAGE_TOO_SMALL")
    assert "9x40" in body["error"]


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG whose pixels are one compressed run of zeros: tiny file, huge image."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    data = b"".join(compressor.compress(row) for _ in range(64)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_is_refused_without_decoding_it(client):
    bomb = _png_header_only(30_000, 30_000)  # 900 megapixels in a few kilobytes
    assert len(bomb) < 100_000

    body = assert_error(post_base64(client, {"image_base64": b64(bomb)}), 413, "PAYLOAD_TOO_LARGE")
    assert "pixels" in body["error"]


def test_an_image_over_10_mb_is_a_413(client, settings):
    settings.IMAGE_MAX_BYTES = 50_000
    data = encode(Image.effect_noise((300, 300), 100).convert("RGB"))
    assert len(data) > 50_000

    assert_error(post_base64(client, {"image_base64": b64(data)}), 413, "PAYLOAD_TOO_LARGE")
    upload = io.BytesIO(data)
    upload.name = "big.png"
    assert_error(
        client.post("/leukemia/predict/upload", {"file": upload}), 413, "PAYLOAD_TOO_LARGE"
    )


def test_malformed_json_is_a_400_invalid_request(client):
    response = client.post("/leukemia/predict", "{not json", content_type="application/json")

    assert_error(response, 400, "INVALID_REQUEST")


def test_a_get_on_a_post_endpoint_is_a_405_in_the_envelope(client):
    assert_error(client.get("/leukemia/predict"), 405, "METHOD_NOT_ALLOWED")


@pytest.fixture
def models_not_loaded(tmp_path, settings):
    """An empty model store: the product cannot load."""
    settings.MODEL_STORE = tmp_path
    registry.runtime("leukemia").unload()
    yield
    registry.runtime("leukemia").unload()


def test_models_not_loaded_is_a_503(client, cell_png, models_not_loaded):
    body = assert_error(
        post_base64(client, {"image_base64": b64(cell_png)}), 503, "MODELS_NOT_LOADED"
    )
    assert body["error"] == "AI models not initialized"


def test_an_unexpected_failure_is_a_500_without_a_traceback(client, cell_png, monkeypatch):
    from inference.api import inference

    async def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(inference, "run_task", broken)

    body = assert_error(
        post_base64(client, {"image_base64": b64(cell_png)}), 500, "INTERNAL_SERVER_ERROR"
    )
    assert "secret internal detail" not in body["error"]


# --- throttling ---------------------------------------------------------------------------------


@pytest.fixture
def tight_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"leukemia_anon": "2/min", "leukemia_key": "100/min"},
    }


def test_anonymous_callers_are_throttled_per_ip_with_retry_after(client, tight_rates):
    for _ in range(2):
        assert client.get("/leukemia/").status_code == 200

    response = client.get("/leukemia/")

    body = assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
    assert int(response["Retry-After"]) > 0
    assert "x-api-key" in body["error"]
    other_ip = client.get("/leukemia/", REMOTE_ADDR="10.9.8.7")
    assert other_ip.status_code == 200


def test_a_valid_api_key_lifts_the_anonymous_limit(client, tight_rates):
    customer = Customer.objects.create(name="Lab with key")
    _, raw_key = ApiKey.issue(customer)

    statuses = [
        client.get("/leukemia/", headers={"x-api-key": raw_key}).status_code for _ in range(5)
    ]

    assert statuses == [200] * 5


def test_an_invalid_or_revoked_key_counts_as_anonymous(client, tight_rates):
    customer = Customer.objects.create(name="Revoked")
    api_key, raw_key = ApiKey.issue(customer)
    api_key.revoked_at = api_key.created_at
    api_key.save()

    statuses = [
        client.get("/leukemia/", headers={"x-api-key": key}).status_code
        for key in (raw_key, "mia_wrong", raw_key)
    ]

    assert statuses == [200, 200, 429]


def test_health_is_never_throttled(client, tight_rates):
    information = [client.get("/leukemia/").status_code for _ in range(3)]
    health = [client.get("/leukemia/health").status_code for _ in range(5)]

    assert information == [200, 200, 429]  # the other endpoints are throttled
    assert health == [200] * 5


# --- information and health -----------------------------------------------------------------------


def test_health_is_the_seeds_full_document(client):
    response = client.get("/leukemia/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 200
    assert body["status"] == "healthy"
    assert body["service"] == "Leukemia Classification API"
    assert body["api_version"] == "1.0.0"
    assert body["model_version"] == "leukemia-ref-phantom-1.0"
    assert body["models_loaded"] is True
    assert (body["models_loaded_count"], body["total_models_required"]) == (3, 3)
    assert list(body["model_sources"]) == ["feature_extractor", "classifier", "scaler"]
    assert body["model_sources"]["scaler"] == {
        "source": "local",
        "repository": None,
        "filename": "feature_scaler.pt",
        "local_path": "models/leukemia/feature_scaler.pt",
        "local_exists": True,
        "loaded": True,
    }
    info = body["repository_info"]
    assert info["total_models"] == 3
    assert info["available_models"] == ["feature_extractor", "classifier", "scaler"]
    assert info["model_files"]["classifier"] == "classifier.pt"
    assert info["models_directory_exists"] is True
    assert body["device"] == "cpu"
    datetime.fromisoformat(body["timestamp"])


def test_health_is_503_and_unhealthy_when_models_are_not_loaded(client, models_not_loaded):
    response = client.get("/leukemia/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["models_loaded"] is False
    assert body["models_loaded_count"] == 0
    assert body["total_models_required"] == 3
    assert "no manifest" in body["reason"]


def test_api_information_lists_classes_endpoints_and_limits(client):
    body = client.get("/leukemia/").json()

    assert body["service"] == "Leukemia Classification API"
    assert body["status"] == "running"
    assert body["classes"] == DESCRIPTIONS
    assert "POST /predict/upload" in body["endpoints"]
    assert body["limits"]["formats"] == ["JPEG", "PNG"]


def test_every_leukemia_endpoint_is_in_the_openapi_schema_as_the_seed_spells_it(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    paths = {path for path in schema["paths"] if path.startswith("/leukemia")}

    assert paths == {
        "/leukemia/",
        "/leukemia/predict",
        "/leukemia/predict/upload",
        "/leukemia/health",
    }
    predict = schema["paths"]["/leukemia/predict"]["post"]
    assert "Base64Request" in str(predict["requestBody"])
    assert {"200", "400", "413", "429", "500", "503"} <= set(predict["responses"])


# --- usage ---------------------------------------------------------------------------------------


def test_a_call_with_an_api_key_is_recorded_for_its_customer_at_no_charge(client, cell_png):
    from billing.models import UsageEvent

    customer = Customer.objects.create(name="Haematology lab")
    _, raw_key = ApiKey.issue(customer)

    response = post_base64(client, {"image_base64": b64(cell_png)}, headers={"x-api-key": raw_key})

    assert response.status_code == 200
    assert "billing" not in response.json()  # the seed's envelope is unchanged
    event = UsageEvent.objects.get()
    assert (event.customer, event.product, event.endpoint) == (
        customer,
        "leukemia",
        "/leukemia/predict",
    )
    assert event.reason == "classified"
    assert event.rate is not None
    assert event.rate == 0


def test_an_anonymous_call_records_no_usage(client, cell_png):
    from billing.models import UsageEvent

    assert post_base64(client, {"image_base64": b64(cell_png)}).status_code == 200
    assert not UsageEvent.objects.exists()


# --- numbers and timestamps as the seed writes them ---------------------------------------------


def test_confidence_and_probabilities_have_the_seeds_three_decimals(client, cell_png):
    data = post_base64(client, {"image_base64": b64(cell_png)}).json()["data"]

    numbers = [data["prediction"]["confidence"], *data["probabilities"].values()]
    assert all(round(value, 3) == value for value in numbers)
    assert any(value != round(value, 2) for value in numbers)  # not fewer decimals either


def test_success_timestamps_have_microseconds_and_an_offset(client, cell_png):
    body = post_base64(client, {"image_base64": b64(cell_png)}).json()

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", body["timestamp"])


def test_error_timestamps_have_milliseconds_and_z(client):
    body = post_base64(client, {}).json()

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["timestamp"])
