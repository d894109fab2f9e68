"""Landmark corrections at /vhs/v3/corrections and a patient's measurements at
/vhs/v3/measurements: measured again with the same geometry, stored beside the AI's values
(kept), per customer, never billed; and what admin shows of them."""

from __future__ import annotations

import base64
import io

import pytest
from django.contrib.auth.models import User
from PIL import Image

from accounts.models import ApiKey, Customer
from billing.models import UsageEvent
from inference.phantoms.vhs import draw_radiograph
from inference.products.vhs import corrections, geometry
from inference.products.vhs.models import Correction, Measurement

pytestmark = [pytest.mark.django_db, pytest.mark.schema_checked]


def b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture(scope="module")
def dog():
    return draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False)


@pytest.fixture
def customer() -> Customer:
    return Customer.objects.create(name="Vet practice")


@pytest.fixture
def key(customer) -> tuple[ApiKey, str]:
    return ApiKey.issue(customer, label="front desk")


@pytest.fixture
def call(client, key):
    def send(method: str, path: str, body: dict | None = None, raw: str | None = None):
        headers = {"x-api-key": raw or key[1]}
        if method == "get":
            return client.get(path, body or {}, headers=headers)
        return client.post(path, body, content_type="application/json", headers=headers)

    return send


@pytest.fixture
def measured(call, dog) -> dict:
    body = call("post", "/vhs/v3/predict", {"image": b64(dog.image), "uuid": "rex"}).json()
    assert body["result_code"] in (1, 2, 3)
    return body


def moved(prediction: list[dict], name: str, dx: float, dy: float) -> list[dict]:
    return [
        {**p, "x": p["x"] + dx, "y": p["y"] + dy} if p["class"] == name else dict(p)
        for p in prediction
    ]


def as_points(prediction: list[dict]) -> dict[str, tuple[float, float]]:
    return {p["class"]: (p["x"], p["y"]) for p in prediction}


def test_predict_with_a_uuid_names_the_stored_measurement_with_its_landmarks_and_size(
    measured, dog
):
    stored = Measurement.objects.get(pk=measured["measurement_id"])

    assert stored.vhs == measured["vhs"]
    assert (stored.image_width, stored.image_height) == dog.image.size
    assert [[round(x, 4), round(y, 4)] for x, y in stored.landmarks] == [
        [p["x"], p["y"]] for p in measured["prediction"]
    ]


def test_predict_without_a_uuid_stores_nothing_and_names_no_measurement(call, dog):
    body = call("post", "/vhs/v3/predict", {"image": b64(dog.image)}).json()

    assert body["measurement_id"] is None
    assert not Measurement.objects.exists()


def test_a_correction_is_measured_again_with_the_same_geometry_and_keeps_the_ai_values(
    call, measured, dog, key
):
    landmarks = moved(measured["prediction"], "heart_bottom", 0.0, 0.05)

    response = call(
        "post",
        "/vhs/v3/corrections",
        {
            "measurement_id": measured["measurement_id"],
            "landmarks": landmarks,
            "corrected_by": "Dr Vet",
        },
    )

    assert response.status_code == 201
    body = response.json()
    expected = geometry.measure(as_points(landmarks), *dog.image.size)
    assert body["vhs"] == measured["vhs"]  # the AI's value, kept
    assert body["correction"]["vhs"] == expected.vhs
    assert body["correction"]["vlas"] == expected.vlas
    assert body["correction"]["vhs"] > measured["vhs"]  # a longer long axis
    assert body["correction"]["delta_vhs"] == round(expected.vhs - measured["vhs"], 1)
    assert body["correction"]["corrected_by"] == "Dr Vet"
    assert body["corrections_count"] == 1
    row = Correction.objects.get()
    assert row.api_key == key[0]
    assert row.measurement.vhs == measured["vhs"]
    assert (row.vhs, row.vlas) == (expected.vhs, expected.vlas)


def test_corrections_are_never_billed(call, measured):
    before = UsageEvent.objects.count()

    call(
        "post",
        "/vhs/v3/corrections",
        {"measurement_id": measured["measurement_id"], "landmarks": measured["prediction"]},
    )

    assert UsageEvent.objects.count() == before


def test_another_customers_measurement_is_not_found(client, measured):
    other = ApiKey.issue(Customer.objects.create(name="Other clinic"))[1]

    response = client.post(
        "/vhs/v3/corrections",
        {"measurement_id": measured["measurement_id"], "landmarks": measured["prediction"]},
        content_type="application/json",
        headers={"x-api-key": other},
    )
    listed = client.get("/vhs/v3/measurements", {"uuid": "rex"}, headers={"x-api-key": other})

    assert response.status_code == 404
    assert response.json() == {"error": f"Measurement {measured['measurement_id']} not found"}
    assert not Correction.objects.exists()
    assert listed.json() == {"uuid": "rex", "measurements": []}


@pytest.mark.parametrize(
    ("landmarks", "message"),
    [
        (lambda p: p[:6], "landmarks must be the seven points"),
        (lambda p: [*p[:6], dict(p[0])], "landmarks must be the seven points"),
        (lambda p: moved(p, "VLAS", 2.0, 0.0), "landmarks must be the seven points"),
        (
            lambda p: [
                {**q, "x": 0.5, "y": 0.5} if q["class"].startswith("Vertebra") else q for q in p
            ],
            "Vertebra A and Vertebra B coincide",
        ),
        (lambda p: moved(p, "Vertebra B", -0.3, 0.0), "outside 3-20"),
    ],
)
def test_landmarks_that_cannot_be_measured_are_refused_with_the_reason(
    call, measured, landmarks, message
):
    response = call(
        "post",
        "/vhs/v3/corrections",
        {
            "measurement_id": measured["measurement_id"],
            "landmarks": landmarks(measured["prediction"]),
        },
    )

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Correction.objects.exists()


def test_a_measurement_stored_without_landmarks_cannot_be_corrected(call, measured):
    Measurement.objects.filter(pk=measured["measurement_id"]).update(
        landmarks=None, image_width=None, image_height=None
    )

    response = call(
        "post",
        "/vhs/v3/corrections",
        {"measurement_id": measured["measurement_id"], "landmarks": measured["prediction"]},
    )

    assert response.status_code == 409
    assert "cannot be corrected" in response.json()["error"]


def test_the_patients_measurements_list_the_ai_values_and_the_newest_correction(
    call, measured, dog
):
    second = call("post", "/vhs/v3/predict", {"image": b64(dog.image), "uuid": "rex"}).json()
    for dy in (0.02, 0.04):
        call(
            "post",
            "/vhs/v3/corrections",
            {
                "measurement_id": second["measurement_id"],
                "landmarks": moved(second["prediction"], "heart_bottom", 0.0, dy),
            },
        )

    body = call("get", "/vhs/v3/measurements", {"uuid": "rex"}).json()

    assert [m["measurement_id"] for m in body["measurements"]] == [
        measured["measurement_id"],
        second["measurement_id"],
    ]
    first, latest = body["measurements"]
    assert "correction" not in first
    assert latest["corrections_count"] == 2
    newest = geometry.measure(
        as_points(moved(second["prediction"], "heart_bottom", 0.0, 0.04)), *dog.image.size
    )
    assert latest["correction"]["vhs"] == newest.vhs
    assert latest["vhs"] == second["vhs"]
    assert latest["prediction"] == second["prediction"]


def test_the_measurements_list_needs_a_uuid(call):
    response = call("get", "/vhs/v3/measurements")

    assert response.status_code == 400
    assert response.json() == {"error": "Missing required parameter: uuid"}


def test_the_correction_summary_counts_corrected_measurements_and_mean_deltas(customer):
    patient = customer.patients.create(uuid="p")
    rows = [
        Measurement.objects.create(
            patient=patient, vhs=10.0, vlas=2.0, result_code=1, model_version="v"
        )
        for _ in range(4)
    ]
    common = {"landmarks": [], "axes_perpendicular": True}
    Correction.objects.create(measurement=rows[0], vhs=10.4, vlas=2.2, **common)
    Correction.objects.create(measurement=rows[1], vhs=9.0, vlas=1.6, **common)  # replaced:
    Correction.objects.create(measurement=rows[1], vhs=9.8, vlas=1.8, **common)

    summary = corrections.correction_summary(Measurement.objects.all())

    assert (summary.measurements, summary.corrected, summary.share_corrected) == (4, 2, 0.5)
    assert summary.mean_abs_delta_vhs == 0.3
    assert summary.mean_abs_delta_vlas == 0.2


def test_admin_shows_ai_and_corrected_values_side_by_side_and_the_summary(client, customer):
    patient = customer.patients.create(uuid="p-admin")
    row = Measurement.objects.create(
        patient=patient, vhs=10.0, vlas=2.0, result_code=1, model_version="v"
    )
    Correction.objects.create(
        measurement=row, vhs=10.6, vlas=2.3, landmarks=[], axes_perpendicular=True
    )
    Measurement.objects.create(patient=patient, vhs=9.5, vlas=1.9, result_code=1, model_version="v")
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))

    page = client.get("/admin/vhs/measurement/").content.decode()

    assert "AI VHS" in page
    assert "Corrected VHS" in page
    assert "10.6" in page
    assert "+0.6" in page
    assert "1 of 2 measurements corrected (50%)" in page
    assert "mean |ΔVHS| 0.60" in page
    assert "mean |ΔVLAS| 0.30" in page
