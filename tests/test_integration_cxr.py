"""The chest X-ray API for real: a JWT from daphne, the study on a Celery worker, files back.

The session's stack (``platform_stack``) lets its servers read studies from ``cxr_input``
and write outputs under ``cxr_output`` (``CXR_INPUT_ROOTS``, ``CXR_OUTPUT_ROOTS`` in their
environment); only daphne touches them, the worker receives the file's bytes.
"""

from __future__ import annotations

import base64
import json

import pytest
import requests
from django.conf import global_settings
from django.contrib.auth import get_user_model

from accounts.models import Customer, Membership
from billing.models import UsageEvent
from inference.phantoms.cxr import draw_study, save_dicom
from inference.products.cxr.labels import FINDINGS
from inference.products.cxr.models import Study

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "radiology-pass-1"
FINDINGS_DRAWN = ["Tuberculosis", "Consolidation"]


@pytest.fixture(scope="module")
def phantom():
    return draw_study(seed=5, findings=FINDINGS_DRAWN)


@pytest.fixture
def customer() -> Customer:
    return Customer.objects.create(name="Chest clinic")


@pytest.fixture
def token(platform_stack, customer, settings) -> str:
    """An access token from the live server's ``/auth/token/`` for a user of ``customer``."""
    # The servers run the real settings, whose hashers lack the suite's fast MD5 one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    user = get_user_model().objects.create_user("radiologist", password=PASSWORD)
    Membership.objects.create(user=user, customer=customer)
    response = requests.post(
        f"{platform_stack.base_url}/auth/token/",
        json={"username": "radiologist", "password": PASSWORD},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


def test_the_seeds_curl_example_analyses_the_study_and_writes_its_four_files(
    platform_stack, token, customer, phantom
):
    study_path = platform_stack.cxr_input / "patient001.dcm"
    save_dicom(phantom, study_path)
    output_root = platform_stack.cxr_output / "seed-example"

    # The seed's cURL example: bare token, JSON body, save_to_disk true, a trailing slash.
    response = requests.post(
        f"{platform_stack.base_url}/cxr/single_inference",
        headers={"Content-Type": "application/json", "Authorization": token},
        data=json.dumps(
            {
                "input_image_path": str(study_path),
                "save_to_disk": True,
                "patient_id": "PAT001",
                "output_folder_path": f"{output_root}/",
            }
        ),
        timeout=120,
    )

    assert response.status_code == 200, response.text
    document = response.json()
    assert (document["Result"], document["Message"]) == (
        "Success",
        "Inference completed successfully.",
    )
    data = document["Data"]
    assert data["result"] == "TB Presumptive"
    assert [f["name"] for f in data["findings"]] == list(FINDINGS)
    present = {f["name"] for f in data["findings"] if f["presence"]}
    assert set(FINDINGS_DRAWN) <= present
    folder = output_root / "PAT001"
    assert data["source_image"] == str(folder / "PAT001_source_image.png")
    assert data["heatmap"] == str(folder / "PAT001_heatmap.png")
    assert data["metadata"] == {
        "model_version": "cxr-ref-phantom-1.0",
        "patient_id": "PAT001",
        "patient_name": str(phantom.dataset.PatientName).replace("^", " "),  # PHANTOM CXR5
        "sop_instance_uid": phantom.dataset.SOPInstanceUID,
        "age": phantom.dataset.PatientAge,
        "sex": phantom.dataset.PatientSex,
    }

    assert sorted(p.name for p in folder.iterdir()) == [
        "PAT001_heatmap.png",
        "PAT001_predictions.json",
        "PAT001_report.pdf",
        "PAT001_source_image.png",
    ]
    assert json.loads((folder / "PAT001_predictions.json").read_text()) == data
    assert (folder / "PAT001_report.pdf").read_bytes().startswith(b"%PDF")
    for name in ("PAT001_source_image.png", "PAT001_heatmap.png"):
        assert (folder / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    study = Study.objects.get()
    assert (study.customer, study.patient_id, study.output_folder) == (
        customer,
        "PAT001",
        str(folder),
    )
    assert study.result == "TB Presumptive"
    assert study.sop_instance_uid == phantom.dataset.SOPInstanceUID
    event = UsageEvent.objects.get()
    assert (event.customer, event.product, event.endpoint, event.reason) == (
        customer,
        "cxr",
        "/cxr/single_inference",
        "analysed",
    )
    assert event.request_id == study.request_id == response.headers["X-Request-ID"]


def test_an_uploaded_study_is_analysed_on_the_worker_and_answered_inline(
    platform_stack, token, customer, phantom, tmp_path
):
    upload = tmp_path / "upload.dcm"  # outside the input roots: the upload needs none
    save_dicom(phantom, upload)

    with open(upload, "rb") as handle:
        response = requests.post(
            f"{platform_stack.base_url}/cxr/single_inference/upload",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("upload.dcm", handle, "application/dicom")},
            data={"patient_id": "UPLOAD1"},
            timeout=120,
        )

    assert response.status_code == 200, response.text
    document = response.json()
    assert document["Message"] == "Inference completed successfully."
    data = document["Data"]
    assert data["result"] == "TB Presumptive"
    assert data["metadata"]["patient_id"] == "UPLOAD1"
    assert base64.b64decode(data["report"]).startswith(b"%PDF")
    assert base64.b64decode(data["source_image"]).startswith(b"\x89PNG")
    assert base64.b64decode(data["heatmap"]).startswith(b"\x89PNG")
    assert not (platform_stack.cxr_output / "UPLOAD1").exists()
    study = Study.objects.get()
    assert (study.customer, study.patient_id, study.output_folder) == (customer, "UPLOAD1", "")
    event = UsageEvent.objects.get()
    assert (event.customer, event.endpoint) == (customer, "/cxr/single_inference/upload")


def test_a_call_without_a_token_is_token_missing_in_the_envelope(platform_stack, phantom):
    study_path = platform_stack.cxr_input / "no-token.dcm"
    save_dicom(phantom, study_path)

    response = requests.post(
        f"{platform_stack.base_url}/cxr/single_inference",
        json={"input_image_path": str(study_path), "save_to_disk": False},
        timeout=30,
    )

    assert response.status_code == 401
    assert response.json() == {"Result": "Failure", "Data": None, "Message": "Token missing"}
    assert not Study.objects.exists()
    assert not UsageEvent.objects.exists()
