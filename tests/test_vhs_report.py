"""The VHS PDF report at /vhs/v3/report: one A4 page with the clinic, the patient, the values
against their normal ranges, a staff correction beside the AI value and the history; per
customer, never billed.  Text is read back with poppler's ``pdftotext``.  The picture in
docs/vhs.md is this module's example rendered at 80 dpi:

    python -m tests.test_vhs_report docs/images/vhs-report.png

(The API tests import the models inside, so that this runs without Django set up.)
"""

from __future__ import annotations

import base64
import datetime
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from inference.phantoms.vhs import draw_radiograph
from inference.products.vhs.analysis import FrameResult
from inference.products.vhs.geometry import LANDMARKS
from inference.products.vhs.render import render
from inference.products.vhs.report import (
    HistoryPoint,
    StaffCorrection,
    VhsReportInput,
    render_report,
)
from inference.runtime.product import DISCLAIMER

pytestmark = pytest.mark.usefixtures("poppler")


def b64(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def pdf_text(pdf: bytes) -> str:
    result = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return result.stdout.decode()


def pdf_pages(pdf: bytes) -> int:
    result = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True)
    line = next(x for x in result.stdout.decode().splitlines() if x.startswith("Pages:"))
    return int(line.split()[1])


@pytest.fixture(scope="module")
def dog():
    return draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False)


@pytest.fixture
def customer():
    from accounts.models import Customer

    return Customer.objects.create(name="Riverside Veterinary Clinic")


@pytest.fixture
def call(client, customer):
    from accounts.models import ApiKey

    raw = ApiKey.issue(customer)[1]

    def send(path: str, body: dict, key: str = raw):
        return client.post(path, body, content_type="application/json", headers={"x-api-key": key})

    return send


@pytest.fixture
def corrected(call, dog) -> tuple[dict, dict]:
    """A measurement of patient rex (the second; one before it) and its correction."""
    call("/vhs/v3/predict", {"image": b64(dog.image), "uuid": "rex-2024-117"})
    measured = call("/vhs/v3/predict", {"image": b64(dog.image), "uuid": "rex-2024-117"}).json()
    landmarks = [
        {**p, "y": p["y"] + 0.05} if p["class"] == "heart_bottom" else p
        for p in measured["prediction"]
    ]
    body = {"measurement_id": measured["measurement_id"], "landmarks": landmarks}
    correction = call("/vhs/v3/corrections", {**body, "corrected_by": "Dr Ana Vet"}).json()
    return measured, correction["correction"]


@pytest.mark.django_db
@pytest.mark.schema_checked
def test_the_report_shows_the_patient_the_ai_value_and_the_correction_beside_it(
    call, corrected, dog
):
    from billing.models import UsageEvent

    measured, correction = corrected
    before = UsageEvent.objects.count()

    response = call(
        "/vhs/v3/report", {"measurement_id": measured["measurement_id"], "image": b64(dog.image)}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="vhs-report-{measured["measurement_id"]}.pdf"'
    )
    pdf = response.content
    assert pdf_pages(pdf) == 1
    text = pdf_text(pdf)
    assert "Riverside Veterinary Clinic" in text
    assert "rex-2024-117" in text
    assert f"{correction['vhs']:.1f}" in text
    assert f"AI {measured['vhs']:.1f} ({correction['vhs'] - measured['vhs']:+.1f})" in text
    assert "corrected by Dr Ana Vet" in text
    assert "normal 8.5-10.5" in text
    assert "History" in text
    assert UsageEvent.objects.count() == before  # never billed


@pytest.mark.django_db
@pytest.mark.schema_checked
def test_without_the_image_the_landmarks_are_drawn_on_a_blank_frame(call, corrected):
    measured, _ = corrected

    response = call("/vhs/v3/report", {"measurement_id": measured["measurement_id"]})

    assert response.status_code == 200
    assert "Radiograph not supplied" in pdf_text(response.content)


@pytest.mark.django_db
@pytest.mark.schema_checked
def test_an_image_that_is_not_the_measured_one_is_refused(call, corrected, dog):
    measured, _ = corrected
    smaller = dog.image.resize((dog.image.width // 2, dog.image.height // 2))

    response = call(
        "/vhs/v3/report", {"measurement_id": measured["measurement_id"], "image": b64(smaller)}
    )

    assert response.status_code == 400
    assert "send the image that was measured" in response.json()["error"]


@pytest.mark.django_db
@pytest.mark.schema_checked
def test_another_customers_measurement_has_no_report(call, corrected):
    from accounts.models import ApiKey, Customer

    measured, _ = corrected
    other = ApiKey.issue(Customer.objects.create(name="Other clinic"))[1]

    response = call("/vhs/v3/report", {"measurement_id": measured["measurement_id"]}, key=other)

    assert response.status_code == 404
    assert response.json() == {"error": f"Measurement {measured['measurement_id']} not found"}


@pytest.mark.django_db
@pytest.mark.schema_checked
def test_the_report_needs_a_measurement_id(call):
    response = call("/vhs/v3/report", {})

    assert response.status_code == 400
    assert response.json() == {"error": "Missing required field: measurement_id"}


# --- the page itself (no database) ------------------------------------------------------------

GENERATED = datetime.datetime(2026, 3, 1, 9, 30, tzinfo=datetime.UTC)


def example_input(**changes) -> VhsReportInput:
    """A corrected measurement with three earlier ones, on a phantom radiograph."""
    phantom = draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False)
    truth = phantom.truth["landmarks"]
    points = {name: (float(truth[name][0]), float(truth[name][1])) for name in LANDMARKS}
    frame = FrameResult(1, 1.0, points, 0.004, 11.6, 2.1)
    rendered = base64.b64decode(render(phantom.image.convert("RGB"), frame, "PNG"))
    history = [
        HistoryPoint(GENERATED - datetime.timedelta(days=days), vhs, vlas, fixed, fixed_vlas)
        for days, vhs, vlas, fixed, fixed_vlas in [
            (120, 10.1, 1.8, None, None),
            (60, 10.6, 1.9, None, None),
            (20, 11.0, 2.0, 11.3, 2.1),
            (0, 11.2, 2.0, 11.6, 2.1),
        ]
    ]
    values = {
        "clinic": "Riverside Veterinary Clinic · Cardiology",
        "uuid": "rex-2024-117",
        "measurement_id": 42,
        "measured_at": GENERATED,
        "vhs": 11.2,
        "vlas": 2.0,
        "confidence": "optimal",
        "result_description": "VHS and VLAS predicted successfully with high confidence",
        "model_version": "vhs-ref-phantom-3.0",
        "rendered_png": rendered,
        "image_note": "The radiograph with the landmarks as corrected by staff.",
        "generated_at": GENERATED,
        "disclaimer": DISCLAIMER,
        "correction": StaffCorrection(11.6, 2.1, GENERATED, "Dr Ana Vet"),
        "history": history,
    }
    return VhsReportInput(**{**values, **changes})


def test_the_same_input_gives_the_same_bytes():
    assert render_report(example_input()) == render_report(example_input())


def test_a_first_uncorrected_measurement_with_no_vlas_still_gives_one_page():
    report = example_input(
        vlas=None,
        correction=None,
        history=[HistoryPoint(GENERATED, 11.2, None)],
        image_note="The radiograph with the AI's landmarks, axes and vertebral scale.",
        clinic="An exceptionally long clinic name that cannot fit on one line of the letterhead "
        "at any of the sizes tried, with a department",
    )

    pdf = render_report(report)

    assert pdf_pages(pdf) == 1
    text = pdf_text(pdf)
    assert "not measured" in text
    assert "as measured" in text
    assert "Landmarks corrected" not in text


def render_docs_picture(path: str) -> str:
    """The example report as the PNG docs/vhs.md shows (80 dpi)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "report.pdf"
        source.write_bytes(render_report(example_input()))
        stem = Path(path).with_suffix("")
        subprocess.run(
            ["pdftoppm", "-r", "80", "-png", "-singlefile", str(source), str(stem)], check=True
        )
    return path


if __name__ == "__main__":
    print(render_docs_picture(sys.argv[1] if len(sys.argv) > 1 else "docs/images/vhs-report.png"))
