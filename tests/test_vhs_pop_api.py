"""The PoP endpoints of /vhs/v3/ (corners, rectify, preprocess) and PoP photos in predict,
with the shipped PoP network, on phone-photo phantoms (``inference.phantoms.pop``)."""

from __future__ import annotations

import base64
import io
import math
import shutil
from pathlib import Path

import pytest
from PIL import Image

from accounts.models import ApiKey, Customer
from billing.models import UsageEvent
from inference.phantoms.pop import draw_pop
from inference.phantoms.vhs import draw_radiograph
from inference.runtime import registry

pytestmark = pytest.mark.django_db

CORNERS_MESSAGE = "corners must be four [x, y] pairs of finite numbers, ordered TL, TR, BR, BL"


def b64(image: Image.Image, fmt: str = "JPEG") -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format=fmt, quality=92)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture
def post(client):
    raw = ApiKey.issue(Customer.objects.create(name="PoP practice"))[1]

    def call(path: str, body: dict):
        return client.post(
            f"/vhs/v3/{path}", body, content_type="application/json", headers={"x-api-key": raw}
        )

    return call


@pytest.fixture(scope="module")
def photo():
    """A clear photo of a monitor: moderate tilt, no glare, no moire."""
    return draw_pop(seed=7, tilt=15.0, glare=0.0, moire=False, blur=0.0)


def corner_error(found: list, truth: list, image: Image.Image) -> float:
    """The largest corner distance, as a fraction of the photo's diagonal."""
    diagonal = math.hypot(*image.size)
    return max(math.dist(a, b) for a, b in zip(found, truth, strict=True)) / diagonal


def test_corners_finds_the_screen_in_seed_order(post, photo):
    response = post("corners", {"image": b64(photo.image)})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert list(body) == ["corners", "order", "image_width", "image_height", "model_version"]
    assert body["order"] == "TL,TR,BR,BL"
    assert (body["image_width"], body["image_height"]) == photo.image.size
    assert corner_error(body["corners"], photo.truth["corners"], photo.image) < 0.03
    assert body["model_version"] == "vhs-ref-phantom-3.0"
    assert not UsageEvent.objects.exists()  # utility endpoints are never billed


def test_rectify_warps_the_given_corners_to_a_jpeg_of_their_geometry(post, photo):
    response = post("rectify", {"image": b64(photo.image), "corners": photo.truth["corners"]})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert list(body) == ["rectified_image", "width", "height", "model_version"]
    rectified = Image.open(io.BytesIO(base64.b64decode(body["rectified_image"])))
    assert rectified.format == "JPEG"
    assert rectified.size == (body["width"], body["height"])
    # The screen shows the radiograph at its own aspect ratio; the rectified image keeps it.
    width, height = photo.truth["radiograph_size"]
    assert body["width"] / body["height"] == pytest.approx(width / height, rel=0.05)


def test_preprocess_is_corners_then_rectify(post, photo):
    response = post("preprocess", {"image": b64(photo.image)})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert list(body) == [
        "rectified_image",
        "corners",
        "order",
        "width",
        "height",
        "model_version",
    ]
    assert corner_error(body["corners"], photo.truth["corners"], photo.image) < 0.03
    assert Image.open(io.BytesIO(base64.b64decode(body["rectified_image"]))).size == (
        body["width"],
        body["height"],
    )


@pytest.mark.parametrize(
    ("corners", "message"),
    [
        ([[0, 0], [10, 0], [10, 10]], CORNERS_MESSAGE),
        ([[0, 0], [10, 0], [10, 10], [0, "x"]], CORNERS_MESSAGE),
        ("TL,TR,BR,BL", CORNERS_MESSAGE),
        (None, "Missing required field: corners"),
    ],
    ids=["three-points", "not-a-number", "not-a-list", "null"],
)
def test_rectify_refuses_malformed_corners(post, photo, corners, message):
    response = post("rectify", {"image": b64(photo.image), "corners": corners})

    assert response.status_code == 400
    assert response.json() == {"error": message}


@pytest.mark.parametrize(
    "corners",
    [
        [[100, 100], [300, 100], [150, 150], [100, 300]],  # concave
        [[100, 100], [300, 300], [300, 100], [100, 300]],  # self-intersecting
        [[100, 100], [101, 100], [101, 101], [100, 101]],  # degenerate: a pixel
        [[100, 100], [9000, 100], [9000, 9000], [100, 9000]],  # far outside the photo
        [[300, 100], [100, 100], [100, 300], [300, 300]],  # not TL, TR, BR, BL
    ],
    ids=["concave", "self-intersecting", "tiny", "outside", "wrong-order"],
)
def test_rectify_refuses_corners_that_are_no_screen_of_this_photo(post, photo, corners):
    response = post("rectify", {"image": b64(photo.image), "corners": corners})

    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert response.json()["error"] != CORNERS_MESSAGE  # the geometry's own reason


def test_no_screen_at_all_is_corner_detection_failed(post):
    blank = Image.new("RGB", (640, 480), (128, 120, 110))

    for path in ("corners", "preprocess"):
        response = post(path, {"image": b64(blank)})
        assert response.status_code == 422, (path, response.json())
        assert response.json() == {"error": "Corner detection failed"}


def test_a_pop_photo_in_predict_is_rectified_measured_and_billed(post, photo):
    response = post("predict", {"image": b64(photo.image), "uuid": "pop-dog"})

    body = response.json()
    assert response.status_code == 200, body
    assert body["pop_detected"] is True
    assert body["result_code"] in (1, 2, 3, 4), body
    assert abs(body["vhs"] - photo.truth["vhs"]) <= 1.0
    assert body["billing"]["billable"] is True


def test_a_direct_radiograph_is_not_a_pop(post):
    dog = draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False)

    body = post("predict", {"images": [b64(dog.image)]}).json()

    assert body["per_photo"][0]["pop_detected"] is False


def test_a_screen_partly_out_of_the_photo_is_code_7_never_billed(post):
    hidden = draw_pop(seed=11, out_of_view=True)

    body = post("predict", {"images": [b64(hidden.image)]}).json()

    assert body["per_photo"][0]["result_code"] == 7, body["per_photo"][0]
    assert body["billing"]["billable"] is False


@pytest.fixture
def store_without_pop(settings, tmp_path) -> Path:
    """A model store with every VHS file but the PoP network's."""
    shutil.copytree(Path(settings.BASE_DIR) / "models" / "vhs", tmp_path / "vhs")
    (tmp_path / "vhs" / "pop_detector.pt").unlink()
    return tmp_path


def test_without_the_pop_network_the_pop_endpoints_are_503_and_predict_still_works(
    post, photo, settings, store_without_pop
):
    settings.MODEL_STORE = store_without_pop
    registry.runtime("vhs").unload()
    try:
        answers = {
            path: post(path, {"image": b64(photo.image)}) for path in ("corners", "preprocess")
        }
        answers["rectify"] = post(
            "rectify", {"image": b64(photo.image), "corners": photo.truth["corners"]}
        )
        dog = draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False)
        measured = post("predict", {"image": b64(dog.image)})
    finally:
        registry.runtime("vhs").unload()

    for path, response in answers.items():
        assert response.status_code == 503, path
        assert response.json() == {"error": "PoP pipeline not available"}
    assert measured.status_code == 200
    assert measured.json()["pop_detected"] is False


def test_health_counts_the_pop_network(client):
    raw = ApiKey.issue(Customer.objects.create(name="Health practice"))[1]

    body = client.get("/vhs/v3/health", headers={"x-api-key": raw}).json()

    assert (body["pop_models_loaded"], body["pop_pipeline_enabled"]) == (2, True)


def test_a_single_pop_photo_whose_screen_is_not_found_answers_code_7_in_the_standard_shape(post):
    hidden = draw_pop(seed=11, out_of_view=True)

    response = post("predict", {"image": b64(hidden.image)})

    body = response.json()
    assert response.status_code == 200, body
    assert (body["result_code"], body["pop_detected"]) == (7, True)
    assert body["result_description"] == "PoP image detected but perspective correction failed"
    assert (body["vhs"], body["vlas"], body["prediction"], body["spread"]) == (None, None, [], None)
    assert body["billing"]["billable"] is False


def test_a_blank_image_is_no_screen_but_a_rejected_non_radiograph(post):
    blank = Image.new("RGB", (320, 240), (128, 120, 110))

    body = post("predict", {"image": b64(blank)}).json()

    assert (body["result_code"], body["rejected"]) == (6, True)


def test_a_photo_larger_than_the_search_copy_gets_its_corners_in_its_own_pixels(post, photo):
    # Three times the photo's size: the screen is found on a 2048-pixel copy, and the corners
    # come back in the large photo's pixels.
    large = photo.image.resize((photo.image.width * 3, photo.image.height * 3))
    truth = [[3 * x, 3 * y] for x, y in photo.truth["corners"]]

    body = post("corners", {"image": b64(large)}).json()

    assert (body["image_width"], body["image_height"]) == large.size
    assert corner_error(body["corners"], truth, large) < 0.03
