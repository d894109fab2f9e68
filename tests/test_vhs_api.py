"""The VHS API v3 at /vhs/v3/: predictions, rejections, history, billing and errors."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
import skimage
from django.utils import timezone
from PIL import Image

from accounts.models import ApiKey, Customer
from billing.models import UsageEvent
from inference.phantoms.vhs import draw_negative, draw_radiograph
from inference.products.vhs.geometry import LANDMARKS
from inference.products.vhs.models import Measurement, Patient
from inference.runtime import registry

pytestmark = pytest.mark.django_db

# docs/models.md publishes a held-out VHS mean absolute error of 0.23 with 91 % of phantoms
# within +/-0.5 vertebrae; each phantom used here must land within 0.5 of its truth.
VHS_TOLERANCE = 0.5


def b64(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.convert("RGB" if fmt == "JPEG" else image.mode).save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture
def customer() -> Customer:
    return Customer.objects.create(name="Vet practice")


@pytest.fixture
def api(client, customer):
    raw = ApiKey.issue(customer)[1]

    def post(body: dict, key: str | None = raw, **headers):
        if key is not None:
            headers["x-api-key"] = key
        return client.post(
            "/vhs/v3/predict", body, content_type="application/json", headers=headers
        )

    return post


@pytest.fixture(scope="module")
def dog():
    """A clear, uncropped phantom with a known VHS and VLAS."""
    return draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False)


# --- single image ----------------------------------------------------------------------------


def test_a_phantom_with_known_vhs_comes_back_within_the_published_error(api, dog):
    body = api({"image": b64(dog.image), "uuid": "rex"}).json()

    assert body["result_code"] in (1, 2, 3)
    assert abs(body["vhs"] - dog.truth["vhs"]) <= VHS_TOLERANCE
    assert abs(body["vlas"] - dog.truth["vlas"]) <= VHS_TOLERANCE
    assert [p["class"] for p in body["prediction"]] == list(LANDMARKS)
    assert all(0 <= p["x"] <= 1 and 0 <= p["y"] <= 1 for p in body["prediction"])
    assert body["model_confidence"] in ("optimal", "good", "review")
    assert body["pop_detected"] is False
    assert body["model_version"] == "vhs-ref-phantom-3.0"
    assert body["historic_vhs"] == []
    assert body["billing"] == {
        "billable": True,
        "reason": "valid_vhs",
        "call_type": "single",
        "monthly_usage": 1,
        "tier": "paygo",
        "rate": 3.0,
    }
    assert "rendered_image" not in body


def test_render_returns_an_annotated_image_in_the_input_format(api, dog):
    body = api({"image": b64(dog.image, "JPEG"), "render": True}).json()

    rendered = Image.open(io.BytesIO(base64.b64decode(body["rendered_image"])))
    assert rendered.format == "JPEG"
    assert rendered.size == dog.image.size


def test_a_colour_photograph_is_rejected_and_not_billed(api):
    # A colour photograph, as a phone would send one (the generator's "photo" kind).
    photo = next(image for image, kind in map(draw_negative, range(50)) if kind == "photo")

    body = api({"image": b64(photo, "JPEG"), "uuid": "cat"}).json()

    assert body["result_code"] == 6
    assert body["rejected"] is True
    assert body["rejection_reason"] == "not_a_valid_radiograph"
    assert (body["vhs"], body["vlas"]) == (None, None)
    assert 0.5 <= body["classifier_confidence"] <= 1.0
    for absent in ("prediction", "model_confidence", "spread", "historic_vhs", "rendered_image"):
        assert absent not in body
    assert body["billing"]["billable"] is False
    assert body["billing"]["reason"] == "no_valid_vhs"
    assert not Measurement.objects.exists()


# --- every result code from a real input (docs/measurements.md) -------------------------------

# Phantoms these reference models measure with optimal, good and review agreement.
CONFIDENCE_SEEDS = {1: 604, 2: 609, 3: 769}


def cut_before_vertebra_b(phantom) -> Image.Image:
    """The radiograph cut off halfway between T4 and T9: T9 and the heart's caudal half go."""
    width, height = phantom.image.size
    a_x = phantom.truth["landmarks"]["Vertebra A"][0]
    b_x = phantom.truth["landmarks"]["Vertebra B"][0]
    return phantom.image.crop((0, 0, round(width * (a_x + b_x) / 2), height))


@pytest.mark.parametrize(
    ("code", "confidence", "spread"),
    [(1, "optimal", (0.0, 0.005)), (2, "good", (0.005, 0.008)), (3, "review", (0.008, 1.0))],
)
def test_codes_1_2_3_follow_the_ensembles_agreement_on_real_radiographs(
    api, code, confidence, spread
):
    dog = draw_radiograph(seed=CONFIDENCE_SEEDS[code], atrial_infiltrate=False)

    body = api({"image": b64(dog.image)}).json()

    assert body["result_code"] == code
    assert body["model_confidence"] == confidence
    assert spread[0] <= body["spread"] < spread[1]
    assert abs(body["vhs"] - dog.truth["vhs"]) <= VHS_TOLERANCE
    assert body["billing"]["billable"] is True


def test_a_hidden_left_atrium_is_code_4_billed_with_vhs_but_no_vlas(api):
    dog = draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False, atrial_infiltrate=True)

    body = api({"image": b64(dog.image), "uuid": "bella", "render": True}).json()

    assert body["result_code"] == 4
    assert Image.open(io.BytesIO(base64.b64decode(body["rendered_image"]))).size == dog.image.size
    assert body["result_description"] == (
        "VHS predicted successfully, VLAS could not be calculated"
    )
    assert abs(body["vhs"] - dog.truth["vhs"]) <= VHS_TOLERANCE
    assert body["vlas"] is None
    assert body["billing"]["billable"] is True
    assert Measurement.objects.get().vlas is None


def test_a_radiograph_cut_off_before_t9_is_code_5_and_free(api, dog):
    body = api({"image": b64(cut_before_vertebra_b(dog))}).json()

    assert body["result_code"] == 5
    assert (body["vhs"], body["vlas"]) == (None, None)
    assert body["billing"]["billable"] is False
    assert body["billing"]["reason"] == "no_valid_vhs"


def test_a_radiograph_resampled_to_non_square_pixels_is_code_0_and_free(api, dog):
    width, height = dog.image.size
    stretched = dog.image.resize((width, 4 * height))

    body = api({"image": b64(stretched)}).json()

    assert body["result_code"] == 0
    assert body["result_description"] == "Abnormal result — unexpected prediction state"
    assert body["billing"]["billable"] is False


# --- history -----------------------------------------------------------------------------------


def test_history_lists_previous_measurements_of_the_patient(api, dog):
    first = api({"image": b64(dog.image), "uuid": "bella"}).json()
    second = api({"image": b64(dog.image), "uuid": "bella"}).json()

    today = timezone.now().date().isoformat()
    assert second["historic_vhs"] == [[today, first["vhs"]]]
    assert second["historic_vlas"] == [[today, first["vlas"]]]
    assert Measurement.objects.filter(patient__uuid="bella").count() == 2


def test_one_customer_never_sees_or_changes_another_customers_patients(client, api, dog):
    api({"image": b64(dog.image), "uuid": "shared-name"})
    other_key = ApiKey.issue(Customer.objects.create(name="Other practice"))[1]

    body = client.post(
        "/vhs/v3/predict",
        {"image": b64(dog.image), "uuid": "shared-name"},
        content_type="application/json",
        headers={"x-api-key": other_key},
    ).json()

    assert body["historic_vhs"] == []
    assert body["billing"]["billable"] is True  # not a recheck: another customer's patient
    assert Patient.objects.filter(uuid="shared-name").count() == 2
    assert all(p.measurements.count() == 1 for p in Patient.objects.filter(uuid="shared-name"))


def test_without_a_uuid_history_is_null_and_nothing_is_stored(api, dog):
    body = api({"image": b64(dog.image)}).json()

    assert body["historic_vhs"] is None
    assert body["historic_vlas"] is None
    assert not Patient.objects.exists()


# --- billing through the API ---------------------------------------------------------------------


def test_a_recheck_of_the_same_patient_within_24h_is_free(api, dog):
    api({"image": b64(dog.image), "uuid": "max"})

    billing = api({"image": b64(dog.image), "uuid": "max"}).json()["billing"]

    assert billing == {
        "billable": False,
        "reason": "recheck_24h",
        "monthly_usage": 1,
        "tier": "paygo",
    }


def test_a_batch_bills_once_at_the_session_rate(api, dog):
    other = draw_radiograph(seed=5, vhs=10.0, crop=False)

    body = api({"images": [b64(dog.image), b64(other.image)], "uuid": "duke"}).json()

    assert body["billing"]["call_type"] == "session"
    assert body["billing"]["rate"] == 4.0
    assert UsageEvent.objects.filter(billable=True).count() == 1


def test_the_same_idempotency_key_returns_the_first_answer_unbilled(api, dog):
    payload = {"image": b64(dog.image), "uuid": "luna"}

    first = api(payload, **{"Idempotency-Key": "try-1"}).json()
    again = api(payload, **{"Idempotency-Key": "try-1"}).json()

    assert again == first
    assert UsageEvent.objects.count() == 1


# --- batch ---------------------------------------------------------------------------------------


def test_batch_fields_follow_the_seed(api, dog):
    photo, _ = draw_negative(1)

    body = api({"images": [b64(dog.image), b64(photo, "JPEG")], "uuid": "ace"}).json()

    assert body["n_photos_processed"] == 2
    assert body["n_photos_with_landmarks"] == 1
    assert body["best_photo_index"] == 0
    assert body["vhs"] == body["best_vhs"] == body["median_vhs"] == body["per_photo"][0]["vhs"]
    assert body["vhs_std"] is None
    assert body["processing_started"] is True
    assert body["per_photo"][1]["rejected"] is True
    assert body["per_photo"][0]["landmarks_detected"] is True
    assert body["historic_vhs"] == []


# --- errors -------------------------------------------------------------------------------------


def test_a_missing_image_is_a_400_with_the_seeds_message(api):
    response = api({"uuid": "x"})

    assert response.status_code == 400
    assert response.json() == {"error": "Missing required field: image"}


def test_more_than_10_images_is_a_400(api, dog):
    response = api({"images": [b64(dog.image)] * 11})

    assert response.status_code == 400
    assert response.json() == {"error": "Batch size exceeds maximum of 10 images"}


@pytest.mark.parametrize("key", [None, "mia_nope"])
def test_a_missing_or_invalid_key_is_a_403(api, dog, key):
    response = api({"image": b64(dog.image)}, key=key)

    assert response.status_code == 403
    assert response.json() == {"error": "Invalid API key"}


def test_an_image_over_10_mb_is_a_413(api, settings, dog):
    settings.IMAGE_MAX_BYTES = 1000

    response = api({"image": b64(dog.image)})

    assert response.status_code == 413
    assert response.json() == {"error": "Image exceeds maximum size of 10MB"}


def test_formats_other_than_jpeg_and_png_are_refused_naming_the_batch_index(api, dog):
    gif = b64(Image.new("RGB", (64, 64)), "GIF")

    response = api({"images": [b64(dog.image), gif]})

    assert response.status_code == 400
    assert response.json()["error"].startswith("images[1]: Invalid image format")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"image": "@@@"}, "Invalid base64 encoding"),
        ({"image": "x", "images": ["x"]}, "Send either image or images, not both"),
        ({"images": "not-a-list"}, "images must be a non-empty array of base64 strings"),
        ({"image": 5}, "Images must be base64-encoded strings"),
        ({"image": "eA==", "render": "yes"}, "render must be true or false"),
        ({"image": "eA==", "uuid": "u" * 200}, "uuid must be a string of at most 128 characters"),
    ],
)
def test_invalid_fields_are_400s_with_a_clear_message(api, body, message):
    response = api(body)

    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_models_not_loaded_is_a_503(api, dog, settings, tmp_path):
    settings.MODEL_STORE = tmp_path
    registry.runtime("vhs").unload()
    try:
        response = api({"image": b64(dog.image)})
    finally:
        registry.runtime("vhs").unload()

    assert response.status_code == 503
    assert response.json() == {"error": "Models not loaded"}


# --- health -------------------------------------------------------------------------------------


def test_health_reports_the_five_models(client, customer):
    raw = ApiKey.issue(customer)[1]

    body = client.get("/vhs/v3/health", headers={"x-api-key": raw}).json()

    assert body == {
        "status": "healthy",
        "models_loaded": 5,
        "pop_models_loaded": 2,  # the PoP network and the corner network
        "pop_pipeline_enabled": True,
        "model_version": "vhs-ref-phantom-3.0",
    }


def test_health_needs_a_key(client):
    assert client.get("/vhs/v3/health").status_code == 403


# --- real photographs the models never saw (shipped by scikit-image) ----------------------------

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"


def test_a_real_cat_photo_is_rejected_and_not_billed(api):
    cat = base64.b64encode((SKIMAGE_DATA / "chelsea.png").read_bytes()).decode()

    body = api({"image": cat, "uuid": "not-a-dog"}).json()

    assert body["result_code"] == 6
    assert body["rejection_reason"] == "not_a_valid_radiograph"
    assert body["billing"]["billable"] is False
    assert UsageEvent.objects.get().reason == "no_valid_vhs"


@pytest.mark.parametrize(
    "name",
    # coins and the Shepp-Logan CT phantom were accepted by the first classifier
    ["astronaut.png", "coffee.png", "camera.png", "coins.png", "phantom.png", "gravel.png"],
)
def test_real_colour_and_grayscale_photographs_are_rejected(api, name):
    body = api({"image": base64.b64encode((SKIMAGE_DATA / name).read_bytes()).decode()}).json()

    assert body["result_code"] == 6
