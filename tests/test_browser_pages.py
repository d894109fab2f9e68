"""The staff pages in a real browser: headless Chromium against a live daphne and worker.

Each page is run end to end with a generated sample; what it shows is checked against the
API's own answer for the same bytes, sent by the test itself.  Screenshots of each page go
to ``docs/screenshots/`` (shown in the README).
"""

from __future__ import annotations

import base64

import pytest
import requests

from accounts.models import ApiKey, Customer, Membership
from billing.models import UsageEvent
from tests.browser import STAFF_PASSWORD, STAFF_USERNAME
from web import credentials, samples

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RESULT_TIMEOUT_MS = 90_000


def test_staff_log_in_and_the_home_page_shows_the_products_and_health(staff_page):
    page = staff_page.page
    page.wait_for_selector("#health:not([hidden])")
    assert page.locator("article.product").count() == 3
    names = page.locator("article.product h3").all_inner_texts()
    assert {"Leukemia blood-cell classifier", "Chest X-ray DICOM analysis"} <= set(names)
    assert "ready" in page.locator("#health-overall").inner_text()
    assert page.locator(".models .badge.ok").count() == 3
    assert staff_page.stack.worker_name in page.locator("#health-workers").inner_text()
    assert page.locator("#health-device").inner_text() == "cpu"
    assert page.locator('a[href="/api/docs/"]').count() >= 1
    staff_page.screenshot("home")


def test_the_leukemia_page_classifies_a_generated_sample_as_the_api_does(staff_page):
    page = staff_page.page
    page.goto("/try/leukemia/")
    page.select_option("#sample-class", "Pre")
    page.fill("#sample-seed", "3")
    page.click("#generate")
    page.wait_for_selector("#result:not([hidden])", timeout=RESULT_TIMEOUT_MS)

    sample = samples.leukemia_sample({"class": "Pre", "seed": "3"})
    answer = requests.post(
        staff_page.url("/leukemia/predict/upload"),
        files={"file": (sample["filename"], base64.b64decode(sample["image"]), "image/png")},
        timeout=60,
    ).json()["data"]
    assert page.locator("#predicted").inner_text() == answer["prediction"]["predicted_class"]
    level = answer["prediction"]["confidence_level"]
    assert page.locator("#level").inner_text() == f"{level} confidence"
    for name, probability in answer["probabilities"].items():
        shown = page.locator(f'[data-probability="{name}"]').inner_text()
        assert shown == f"{probability:.3f}"
    # Recorded for the internal customer at 0.00, through the page's key.
    event = UsageEvent.objects.get(customer__name=credentials.CONSOLE_CUSTOMER)
    assert (event.product, str(event.rate)) == ("leukemia", "0.00")
    staff_page.screenshot("try_leukemia")


def test_the_leukemia_page_shows_the_apis_message_for_a_file_that_is_not_an_image(staff_page):
    page = staff_page.page
    page.goto("/try/leukemia/")
    page.set_input_files(
        "#file", files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image"}]
    )
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=RESULT_TIMEOUT_MS)
    answer = requests.post(
        staff_page.url("/leukemia/predict/upload"),
        files={"file": ("notes.png", b"not an image", "image/png")},
        timeout=60,
    ).json()
    assert error.inner_text() == answer["error"]
    assert page.locator("#result").is_hidden()


def jwt_of_a_clinic_user(staff_page) -> str:
    """The JWT a customer's user would get from /auth/token/ (the staff user, linked)."""
    clinic = Customer.objects.create(name="Browser test clinic")
    Membership.objects.create(user=staff_page.user, customer=clinic)
    response = requests.post(
        staff_page.url("/auth/token/"),
        json={"username": STAFF_USERNAME, "password": STAFF_PASSWORD},
        timeout=30,
    )
    return response.json()["access"]


def test_the_cxr_page_analyses_a_generated_study_as_the_api_does(staff_page):
    page = staff_page.page
    page.goto("/try/cxr/")
    page.uncheck('input[value="Tuberculosis"]')
    page.check('input[value="Cardiomegaly"]')
    page.check('input[value="Pleural Effusion"]')
    page.fill("#sample-seed", "5")
    page.click("#generate")
    page.wait_for_selector("#result:not([hidden])", timeout=RESULT_TIMEOUT_MS)

    sample = samples.cxr_sample({"findings": "Cardiomegaly,Pleural Effusion", "seed": "5"})
    answer = requests.post(
        staff_page.url("/cxr/single_inference/upload"),
        files={
            "file": (sample["filename"], base64.b64decode(sample["dicom"]), "application/dicom")
        },
        headers={"Authorization": f"Bearer {jwt_of_a_clinic_user(staff_page)}"},
        timeout=120,
    ).json()["Data"]
    assert page.locator("#overall-result").inner_text() == answer["result"]
    for finding in answer["findings"]:
        row = page.locator(f'tr[data-finding="{finding["name"]}"] td')
        shown = row.all_inner_texts()
        assert shown == [
            finding["name"],
            "yes" if finding["presence"] else "no",
            f"{finding['confidence'] * 100:.1f} %",
        ]
    assert page.locator("#metadata").inner_text().count(answer["metadata"]["patient_id"]) == 1
    assert page.locator("#source").evaluate("img => img.naturalWidth") > 0
    # The report opens from a Blob URL: a PDF.
    href = page.locator("#report").get_attribute("href")
    assert href.startswith("blob:")
    head = page.evaluate("url => fetch(url).then(r => r.text()).then(t => t.slice(0, 5))", href)
    assert head == "%PDF-"
    # The page's call was the internal customer's, at 0.00; the test's own was the clinic's.
    page_event = UsageEvent.objects.get(customer__name=credentials.CONSOLE_CUSTOMER)
    assert (page_event.product, str(page_event.rate)) == ("cxr", "0.00")
    assert UsageEvent.objects.filter(customer__name="Browser test clinic").count() == 1
    staff_page.screenshot("try_cxr")


def test_the_cxr_page_shows_the_apis_message_for_a_file_that_is_not_dicom(staff_page):
    page = staff_page.page
    page.goto("/try/cxr/")
    body = b"this is a text file, not a DICOM study"
    page.set_input_files(
        "#file", files=[{"name": "study.dcm", "mimeType": "application/dicom", "buffer": body}]
    )
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=RESULT_TIMEOUT_MS)
    answer = requests.post(
        staff_page.url("/cxr/single_inference/upload"),
        files={"file": ("study.dcm", body, "application/dicom")},
        headers={"Authorization": f"Bearer {jwt_of_a_clinic_user(staff_page)}"},
        timeout=60,
    ).json()
    assert error.inner_text() == answer["Message"]
    assert page.locator("#result").is_hidden()


def test_a_pop_session_with_generated_photos_runs_to_complete_on_the_page(staff_page):
    page = staff_page.page
    page.goto("/try/pop/")
    assert page.locator("#camera-note").is_visible()  # headless Chromium has no camera
    page.fill("#pop-seed", "7")
    page.fill("#pop-tilt", "10")
    page.fill("#pop-frames", "8")
    page.fill("#uuid", "browser-dog-1")
    page.click("#generate")
    # The session ends (complete or failed), or the error box says why it could not run.
    page.wait_for_function(
        "() => !document.getElementById('error').hidden || "
        "/^(complete|failed|stopped)/.test(document.getElementById('session-state').textContent)",
        timeout=RESULT_TIMEOUT_MS * 2,
    )
    frames = page.locator("#frames li").all_inner_texts()
    assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()
    assert page.locator("#session-state").inner_text() == "complete", frames
    assert page.locator("#good-frames").inner_text() == "3/3"
    assert frames[-1].endswith("complete")
    assert page.locator("#rectified").evaluate("img => img.naturalWidth") > 0
    # What the page shows is what the session answered and stored for the patient.
    from inference.products.vhs.models import PopSession

    session = PopSession.objects.get(session_id=page.locator("#session-id").inner_text())
    assert (session.status, session.customer.name) == ("complete", credentials.CONSOLE_CUSTOMER)
    event = UsageEvent.objects.get(customer__name=credentials.CONSOLE_CUSTOMER)
    assert (event.call_type, str(event.rate), event.patient_uuid) == (
        "session",
        "0.00",
        "browser-dog-1",
    )
    # The API's own answer for the same photos: a batch picks its best frame as the session
    # does (the lowest spread of the measured frames), so with three good frames it is the same.
    photos = [
        samples.pop_sample({"seed": "7", "tilt": str(10 + index % 3), "glare": "0", "moire": "0"})
        for index in range(len(frames))
    ]
    answer = requests.post(
        staff_page.url("/vhs/v3/predict"),
        json={"images": [photo["image"] for photo in photos]},
        headers={"x-api-key": ApiKey.issue(Customer.objects.create(name="Batch clinic"))[1]},
        timeout=120,
    ).json()
    if len(frames) == 3:
        assert page.locator("#vhs").inner_text() == f"VHS {answer['vhs']}"
    staff_page.screenshot("try_pop")


@pytest.mark.parametrize("path", ["/", "/try/leukemia/", "/try/cxr/", "/try/pop/"])
def test_each_page_fits_a_phone_width_without_sideways_scrolling(staff_page, path):
    page = staff_page.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("h1").is_visible()
