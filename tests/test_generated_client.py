"""A client generated from the published schema works, as generated, against a live server.

openapi-python-client (a test-only dependency) writes a typed Python package from
``/api/schema/``; these tests import it and call a live daphne (Celery eager, on the test
database) through it: leukemia predict, VHS single, rejected and batch predict, VHS health.
Each answer must parse into the model the schema names for it, which holds the schema to what
the server really sends, field by field, and shows that a client needs nothing but the schema.
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from accounts.models import ApiKey, Customer
from inference.phantoms.leukemia import draw_cell
from inference.phantoms.vhs import draw_negative, draw_radiograph
from tests.schema_check import published_schema
from tests.servers import platform_env, start_daphne

# transaction=True: the server (another process) must see the key this test stores.
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PACKAGE = "medimg_client"
# No post-generation hooks: the package is used exactly as the generator writes it.
GENERATOR_CONFIG = f"project_name_override: {PACKAGE}\npackage_name_override: {PACKAGE}\n"
GENERATOR_CONFIG += "post_hooks: []\n"
# The VHS report answers application/pdf; the generator types binary bodies only as
# octet-stream (its documented override, as docs/api.md shows users).
GENERATOR_CONFIG += "content_type_overrides:\n  application/pdf: application/octet-stream\n"


def b64(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.convert("RGB" if fmt == "JPEG" else image.mode).save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def generate_client(folder: Path) -> None:
    """``openapi-python-client generate`` on the schema, as a user would run it."""
    (folder / "schema.json").write_text(json.dumps(published_schema()))
    (folder / "config.yaml").write_text(GENERATOR_CONFIG)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            "schema.json",
            "--config",
            "config.yaml",
            "--meta",
            "none",
            "--output-path",
            PACKAGE,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, importable as ``medimg_client`` for this module's tests."""
    folder = tmp_path_factory.mktemp("client")
    generate_client(folder)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def base_url(test_database_url: str) -> Iterator[str]:
    server, url = start_daphne(platform_env(test_database_url, None))
    yield url
    server.stop()


def api(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def model(name: str) -> type:
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


def test_leukemia_predict_answers_the_typed_prediction_envelope(generated, base_url):
    request = model("LeukemiaBase64Request")(image_base64=b64(draw_cell("Pre", seed=3).image))

    with generated.Client(base_url=base_url, timeout=120, raise_on_unexpected_status=True) as c:
        answer = api("leukemia.leukemia_predict").sync_detailed(client=c, body=request)

    assert answer.status_code == 200, answer.content
    envelope = answer.parsed
    assert isinstance(envelope, model("LeukemiaPredictionEnvelope"))
    assert envelope.success is True
    assert isinstance(envelope.data.prediction.predicted_class, model("LeukemiaClass"))
    assert envelope.data.metadata.image_size == "128x128"


def test_vhs_single_rejected_and_batch_predictions_and_health_answer_their_typed_models(
    generated, base_url
):
    key = ApiKey.issue(Customer.objects.create(name="Generated client clinic"))[1]
    dog = draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False).image
    photo = next(image for image, kind in map(draw_negative, range(50)) if kind == "photo")
    predict = api("vhs.vhs_predict")
    request = model("VhsPredictRequest")

    with generated.AuthenticatedClient(
        base_url=base_url,
        token=key,
        prefix="",
        auth_header_name="x-api-key",
        timeout=120,
        raise_on_unexpected_status=True,
    ) as c:
        single = predict.sync_detailed(client=c, body=request(image=b64(dog), uuid="rex"))
        rejected = predict.sync_detailed(client=c, body=request(image=b64(photo, "JPEG")))
        batch = predict.sync_detailed(client=c, body=request(images=[b64(dog), b64(photo)]))
        health = api("vhs.vhs_health").sync_detailed(client=c)

    assert [a.status_code for a in (single, rejected, batch, health)] == [200] * 4
    assert isinstance(single.parsed, model("VhsSingleResponse"))
    assert single.parsed.result_code in (1, 2, 3)
    assert {type(point.class_) for point in single.parsed.prediction} == {model("VhsLandmarkClass")}
    assert single.parsed.billing.reason == model("VhsBillingReason").VALID_VHS
    assert isinstance(rejected.parsed, model("VhsRejectionResponse"))
    assert rejected.parsed.rejected is True
    assert isinstance(batch.parsed, model("VhsBatchResponse"))
    assert batch.parsed.n_photos_processed == 2
    assert isinstance(batch.parsed.per_photo[1], model("VhsPerPhoto"))
    assert isinstance(health.parsed, model("VhsHealth"))
    assert health.parsed.models_loaded == 5
