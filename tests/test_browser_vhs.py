"""The VHS page (/try/vhs/) in a real browser: headless Chromium against a live daphne and
worker.  What it shows is checked against the API's own answer for the same bytes; a dragged
landmark is saved as a correction whose values are geometry.py's for the dragged points; the
stream shows each image; a bad file shows the API's message; the report downloads."""

from __future__ import annotations

import base64
import subprocess

import pytest
import requests

from accounts.models import ApiKey, Customer
from inference.products.vhs import corrections, geometry
from inference.products.vhs.models import Correction
from web.vhs import draw_samples

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RESULT_TIMEOUT_MS = 120_000


def api_key() -> str:
    return ApiKey.issue(Customer.objects.create(name="Browser test clinic"))[1]


def predict(staff_page, body: dict) -> dict:
    response = requests.post(
        staff_page.url("/vhs/v3/predict"), json=body, headers={"x-api-key": api_key()}, timeout=120
    )
    assert response.status_code == 200, response.text
    return response.json()


def generate(page, count: int, vhs: str = "11.2", vlas: str = "2.0", seed: str = "4") -> None:
    page.goto("/try/vhs/")
    page.fill("#sample-vhs", vhs)
    page.fill("#sample-vlas", vlas)
    page.fill("#sample-count", str(count))
    page.fill("#sample-seed", seed)
    page.click("#generate")
    # A function, not an expression: Playwright evaluates expressions with eval, which the
    # pages' Content-Security-Policy refuses.
    page.wait_for_function(f"() => document.querySelectorAll('#thumbs img').length === {count}")


def test_the_page_measures_a_phantom_as_the_api_does_drags_saves_and_prints(
    staff_page, tmp_path, poppler
):
    page = staff_page.page
    generate(page, 1)
    uuid = page.input_value("#uuid")
    page.click("#measure")
    page.wait_for_selector("#result:not([hidden])", timeout=RESULT_TIMEOUT_MS)
    page.wait_for_selector('circle[data-landmark="heart_bottom"]')

    image = draw_samples({"vhs": "11.2", "vlas": "2.0", "seed": "4", "count": "1"})["images"][0]
    answer = predict(staff_page, {"image": image["image"]})
    assert page.inner_text("#vhs-value") == f"{answer['vhs']:.1f}"
    assert page.inner_text("#vlas-value") == f"{answer['vlas']:.1f}"
    assert page.inner_text("#confidence") == answer["model_confidence"]
    assert page.locator("#save").is_disabled()  # nothing moved yet

    # Drag the apex 40 screen pixels down: the long axis grows, VHS follows live.
    point = page.locator('circle[data-landmark="heart_bottom"]').bounding_box()
    x, y = point["x"] + point["width"] / 2, point["y"] + point["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y + 40, steps=8)
    page.mouse.up()
    live = float(page.inner_text("#vhs-value"))
    assert live > answer["vhs"]
    assert "corrected · AI" in page.inner_text("#vhs-ai")
    page.click("#save")
    page.wait_for_function("() => document.querySelector('#saved').dataset.correctionId")

    correction = Correction.objects.select_related("measurement__patient").get()
    measurement = correction.measurement
    assert measurement.patient.uuid == uuid
    assert measurement.vhs == answer["vhs"]  # the AI's value kept
    dragged = corrections.as_points(correction.landmarks)
    expected = geometry.measure(dragged, measurement.image_width, measurement.image_height)
    assert (correction.vhs, correction.vlas) == (expected.vhs, expected.vlas)
    assert correction.vhs == live  # the page's live value is the server's
    ai = corrections.stored_points(measurement)
    assert dragged["heart_bottom"][1] > ai["heart_bottom"][1]
    assert all(dragged[n] == pytest.approx(ai[n], abs=1e-4) for n in ai if n != "heart_bottom")
    assert correction.corrected_by == "browser-staff"
    page.wait_for_selector("#history svg circle[data-corrected]")

    with page.expect_download(timeout=RESULT_TIMEOUT_MS) as download:
        page.click("#report")
    pdf = tmp_path / "report.pdf"
    download.value.save_as(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, text=True
    ).stdout
    assert uuid in text
    assert f"{correction.vhs:.1f}" in text
    assert f"AI {measurement.vhs:.1f}" in text
    staff_page.screenshot("try-vhs")


def test_three_images_stream_a_result_each_then_the_summary(staff_page):
    page = staff_page.page
    generate(page, 3, vhs="10.4", vlas="1.8", seed="11")
    page.click("#measure")
    page.wait_for_selector("#summary:not([hidden])", timeout=RESULT_TIMEOUT_MS)

    images = draw_samples({"vhs": "10.4", "vlas": "1.8", "seed": "11", "count": "3"})["images"]
    batch = predict(staff_page, {"images": [i["image"] for i in images]})
    rows = page.locator("#stream-rows tr")
    assert rows.count() == 3
    for index, expected in enumerate(batch["per_photo"]):
        row = page.locator(f'#stream-rows tr[data-index="{index}"] td')
        assert row.nth(1).inner_text() == f"{expected['vhs']:.1f}"
        assert row.nth(4).inner_text() == str(expected["result_code"])
    best = batch["best_photo_index"]
    assert page.locator(f'#stream-rows tr.best[data-index="{best}"]').count() == 1
    assert page.inner_text("#vhs-value") == f"{batch['best_vhs']:.1f}"
    page.wait_for_selector('circle[data-landmark="Vertebra A"]')  # the best image, correctable


def test_a_file_that_is_not_an_image_shows_the_apis_message(staff_page):
    page = staff_page.page
    page.goto("/try/vhs/")
    page.set_input_files(
        "#file", files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image"}]
    )
    page.click("#measure")
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=RESULT_TIMEOUT_MS)

    response = requests.post(
        staff_page.url("/vhs/v3/predict"),
        json={"image": base64.b64encode(b"not an image").decode()},
        headers={"x-api-key": api_key()},
        timeout=60,
    )
    assert response.status_code == 400
    assert error.inner_text() == response.json()["error"]
    assert page.locator("#result").is_hidden()
