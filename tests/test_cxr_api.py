"""The chest X-ray API at /cxr/: the seed's request, envelope, validation table, files, JWT."""

from __future__ import annotations

import base64
import copy
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model

if not apps.is_installed("inference.products.cxr"):  # until its reference model ships
    pytest.skip("the chest X-ray product is not listed yet", allow_module_level=True)

from accounts.models import Customer, Membership
from billing.models import UsageEvent
from inference.phantoms.cxr import draw_study, save_dicom
from inference.products.cxr.labels import FINDINGS
from inference.products.cxr.models import Study

pytestmark = pytest.mark.django_db

PASSWORD = "radiology-pass-1"


@pytest.fixture
def roots(settings, tmp_path: Path) -> tuple[Path, Path]:
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    outputs.mkdir()
    settings.CXR_INPUT_ROOTS = str(inputs)
    settings.CXR_OUTPUT_ROOTS = str(outputs)
    return inputs, outputs


@pytest.fixture(scope="module")
def phantom():
    return draw_study(seed=5, findings=["Tuberculosis", "Consolidation"])


@pytest.fixture
def study_path(roots, phantom) -> Path:
    path = roots[0] / "patient001.dcm"
    save_dicom(phantom, path)
    return path


@pytest.fixture
def customer() -> Customer:
    return Customer.objects.create(name="Chest clinic")


@pytest.fixture
def token(client, customer) -> str:
    user = get_user_model().objects.create_user("radiologist", password=PASSWORD)
    Membership.objects.create(user=user, customer=customer)
    response = client.post(
        "/auth/token/", {"username": "radiologist", "password": PASSWORD}, "application/json"
    )
    return response.json()["access"]


@pytest.fixture
def call(client, token):
    def post(body: dict, authorization: str | None = token):
        headers = {} if authorization is None else {"Authorization": authorization}
        return client.post(
            "/cxr/single_inference", body, content_type="application/json", headers=headers
        )

    return post


def body(study_path: Path, roots, **changes) -> dict:
    return {
        "input_image_path": str(study_path),
        "save_to_disk": True,
        "patient_id": "PAT001",
        "output_folder_path": str(roots[1]),
        **changes,
    }


def failure(response, status: int) -> str:
    assert response.status_code == status, response.content
    document = response.json()
    assert set(document) == {"Result", "Data", "Message"}
    assert document["Result"] == "Failure"
    assert document["Data"] is None
    return document["Message"]


# --- the seed's success responses -------------------------------------------------------------


def test_save_to_disk_writes_the_four_files_and_returns_their_paths(call, study_path, roots):
    response = call(body(study_path, roots))

    assert response.status_code == 200, response.content
    document = response.json()
    assert document["Result"] == "Success"
    assert document["Message"] == "Inference completed successfully."
    data = document["Data"]
    folder = roots[1] / "PAT001"
    assert data["source_image"] == str(folder / "PAT001_source_image.png")
    assert data["result"] in ("Normal", "TB Presumptive", "Abnormal")
    written = sorted(p.name for p in folder.iterdir())
    expected = ["PAT001_predictions.json", "PAT001_report.pdf", "PAT001_source_image.png"]
    if data["result"] != "Normal":
        assert data["heatmap"] == str(folder / "PAT001_heatmap.png")
        expected.append("PAT001_heatmap.png")
        assert [f["name"] for f in data["findings"]] == list(FINDINGS)
    else:
        assert (data["heatmap"], data["findings"]) == ("", [])
    assert written == sorted(expected)
    assert json.loads((folder / "PAT001_predictions.json").read_text()) == data
    assert (folder / "PAT001_report.pdf").read_bytes().startswith(b"%PDF")
    assert (folder / "PAT001_source_image.png").read_bytes().startswith(b"\x89PNG")
    metadata = data["metadata"]
    assert metadata["patient_id"] == "PAT001"
    assert metadata["model_version"] == "cxr-ref-phantom-1.0"
    assert metadata["sop_instance_uid"] == _dataset(study_path).SOPInstanceUID


def _dataset(path: Path):
    import pydicom

    return pydicom.dcmread(path, stop_before_pixels=True)


def test_without_save_to_disk_the_images_come_back_as_base64_pngs(call, study_path, roots):
    response = call(body(study_path, roots, save_to_disk=False, output_folder_path=None))

    data = response.json()["Data"]
    assert base64.b64decode(data["source_image"]).startswith(b"\x89PNG")
    assert list(roots[1].iterdir()) == []


def test_every_finding_present_is_tb_presumptive_with_a_heatmap(settings, call, study_path, roots):
    settings.CXR_THRESHOLDS = dict.fromkeys(FINDINGS, 0.0)

    data = call(body(study_path, roots, save_to_disk=False)).json()["Data"]

    assert data["result"] == "TB Presumptive"
    assert all(f["presence"] for f in data["findings"])
    assert base64.b64decode(data["heatmap"]).startswith(b"\x89PNG")


def test_no_finding_present_is_normal_with_an_empty_heatmap_and_no_heatmap_file(
    settings, call, study_path, roots
):
    settings.CXR_THRESHOLDS = dict.fromkeys(FINDINGS, 1.01)

    data = call(body(study_path, roots)).json()["Data"]

    assert (data["result"], data["findings"], data["heatmap"]) == ("Normal", [], "")
    assert not (roots[1] / "PAT001" / "PAT001_heatmap.png").exists()


def test_the_patient_id_defaults_to_the_dicoms(call, study_path, roots, phantom):
    data = call(body(study_path, roots, patient_id=None)).json()["Data"]

    assert data["metadata"]["patient_id"] == phantom.dataset.PatientID
    assert (roots[1] / phantom.dataset.PatientID).is_dir()


def test_each_call_is_a_study_record_and_a_usage_event_of_the_users_customer(
    call, study_path, roots, customer
):
    call(body(study_path, roots))

    study = Study.objects.get()
    assert (study.customer, study.patient_id) == (customer, "PAT001")
    assert len(study.findings) == len(FINDINGS)
    assert study.output_folder == str(roots[1] / "PAT001")
    event = UsageEvent.objects.get()
    assert (event.customer, event.product, event.reason) == (customer, "cxr", "analysed")


# --- the seed's validation table --------------------------------------------------------------


@pytest.mark.parametrize("field", ["input_image_path", "save_to_disk"])
def test_a_missing_required_field_is_named(call, study_path, roots, field):
    request = body(study_path, roots)
    del request[field]

    assert failure(call(request), 400) == f"{field} is required in the request"


def test_a_path_outside_the_allowed_roots_is_an_invalid_path(call, roots):
    message = failure(call(body(Path("/etc/hostname"), roots)), 400)

    assert message.startswith("Invalid path input_image_path: /etc/hostname")


def test_a_symlink_escaping_the_root_is_an_invalid_path(call, roots, tmp_path, phantom):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    save_dicom(phantom, outside / "x.dcm")
    (roots[0] / "link.dcm").symlink_to(outside / "x.dcm")

    message = failure(call(body(roots[0] / "link.dcm", roots)), 400)

    assert message.startswith("Invalid path input_image_path:")


def test_a_missing_file_is_reported(call, roots):
    message = failure(call(body(roots[0] / "nobody.dcm", roots)), 400)

    assert message == f"Input image path does not exist: {roots[0] / 'nobody.dcm'}"


def test_a_file_that_is_not_dcm_is_refused(call, roots):
    path = roots[0] / "image.png"
    path.write_bytes(b"\x89PNG")

    assert failure(call(body(path, roots)), 400) == f"Requested image is not a DICOM file: {path}"


def test_an_unreadable_dicom_is_refused(call, roots):
    path = roots[0] / "broken.dcm"
    path.write_bytes(b"not dicom at all" * 20)

    message = failure(call(body(path, roots)), 400)

    assert message.startswith("Invalid DICOM image, unable to fetch patient ID: ")


@pytest.mark.parametrize("patient_id", ["../../etc", "a/b", "x" * 65, "a b"])
def test_an_unsafe_request_patient_id_is_refused(call, study_path, roots, patient_id):
    message = failure(call(body(study_path, roots, patient_id=patient_id)), 400)

    assert message == f"Invalid patient_id: {patient_id!r} in request body"


def _saved_with(phantom, path: Path, **tags) -> Path:
    """The phantom's study saved with some tags changed (the shared phantom untouched)."""
    dataset = copy.deepcopy(phantom.dataset)
    for keyword, value in tags.items():
        setattr(dataset, keyword, value)
    dataset.save_as(path, enforce_file_format=True)
    return path


def test_an_empty_patient_id_in_request_and_dicom_is_refused(call, roots, phantom):
    path = _saved_with(phantom, roots[0] / "anonymous.dcm", PatientID="")

    message = failure(call(body(path, roots, patient_id=None)), 400)

    assert message.startswith("Patient ID is empty or None")


def test_an_unsafe_dicom_patient_id_is_refused_like_an_invalid_one(call, roots, phantom):
    path = _saved_with(phantom, roots[0] / "hostile.dcm", PatientID="../../escape")

    message = failure(call(body(path, roots, patient_id=None)), 400)

    assert message == "Invalid patient_id: '../../escape' in the DICOM header"


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_save_to_disk_must_be_a_boolean(call, study_path, roots, value):
    message = failure(call(body(study_path, roots, save_to_disk=value)), 400)

    if value is None:
        assert message == "save_to_disk is required in the request"
    else:
        assert message == f"Invalid value for save_to_disk, should be a boolean: {value!r}"


def test_save_to_disk_needs_an_output_folder(call, study_path, roots):
    message = failure(call(body(study_path, roots, output_folder_path=None)), 400)

    assert message == "output_folder_path is required in the request when save_to_disk is True"


def test_an_output_folder_that_cannot_be_created_is_a_500(call, study_path, roots):
    blocker = roots[1] / "a-file"
    blocker.write_text("in the way")

    message = failure(call(body(study_path, roots, output_folder_path=str(blocker))), 500)

    assert message.startswith("Unable to create output folder: ")


def test_an_output_folder_outside_the_roots_is_an_invalid_path(call, study_path, roots):
    message = failure(call(body(study_path, roots, output_folder_path="/tmp")), 400)

    assert message.startswith("Invalid path output_folder_path: /tmp")


# --- JWT ----------------------------------------------------------------------------------------


def test_no_token_is_token_missing(call, study_path, roots):
    assert failure(call(body(study_path, roots), authorization=None), 401) == "Token missing"


def test_a_bearer_token_is_accepted_as_well_as_a_bare_one(call, study_path, roots, token):
    response = call(body(study_path, roots, save_to_disk=False), authorization=f"Bearer {token}")

    assert response.status_code == 200


def test_an_invalid_or_expired_token_says_which(call, study_path, roots, token):
    from rest_framework_simplejwt.tokens import AccessToken

    expired = AccessToken(token)
    expired.set_exp(lifetime=-timedelta(minutes=1))

    assert failure(call(body(study_path, roots), "nonsense"), 401).startswith("Token invalid")
    assert failure(call(body(study_path, roots), str(expired)), 401).startswith("Token expired")


def test_a_user_without_a_customer_is_refused(client, study_path, roots):
    get_user_model().objects.create_user("loner", password=PASSWORD)
    access = client.post(
        "/auth/token/", {"username": "loner", "password": PASSWORD}, "application/json"
    ).json()["access"]

    response = client.post(
        "/cxr/single_inference",
        body(study_path, roots),
        content_type="application/json",
        headers={"Authorization": access},
    )

    assert failure(response, 403).startswith("This user does not act for a customer")


# --- the upload addition ----------------------------------------------------------------------


def test_an_uploaded_dicom_answers_inline_with_the_report(client, token, study_path):
    with open(study_path, "rb") as handle:
        response = client.post(
            "/cxr/single_inference/upload",
            {"file": handle},
            headers={"Authorization": token},
        )

    assert response.status_code == 200, response.content
    data = response.json()["Data"]
    assert base64.b64decode(data["report"]).startswith(b"%PDF")
    assert base64.b64decode(data["source_image"]).startswith(b"\x89PNG")
    assert os.path.basename(study_path) not in json.dumps(data)


# --- every DICOM file pydicom ships, through the upload endpoint -------------------------------


def test_every_bundled_pydicom_file_gets_a_result_or_a_clear_400_never_a_5xx(client, token):
    """The files ``tests/test_dicom_reading.py`` lists as decodable answer 200; the ones it
    lists as refused answer 400 (or 413 for a size) with a message; none answers 5xx."""
    from tests.test_dicom_reading import BUNDLED, REJECTED, TEST_FILES

    statuses: dict[str, int] = {}
    for name in BUNDLED:
        with open(TEST_FILES / name, "rb") as handle:
            response = client.post(
                "/cxr/single_inference/upload",
                {"file": handle, "patient_id": "BUNDLED1"},
                headers={"Authorization": token},
            )
        statuses[name] = response.status_code
        if response.status_code != 200:
            assert response.json()["Message"], name

    server_errors = {name: code for name, code in statuses.items() if code >= 500}
    assert server_errors == {}
    decoded_but_refused = {
        name: code for name, code in statuses.items() if name not in REJECTED and code != 200
    }
    # A file that decodes yet has no usable size for the model would be listed here by name.
    assert decoded_but_refused == {}
    assert all(statuses[name] in (400, 413) for name in REJECTED)


def test_the_default_thresholds_are_the_ones_chosen_with_the_shipped_model(settings):
    manifest = json.loads((settings.MODEL_STORE / "cxr" / "manifest.json").read_text())

    assert settings.CXR_THRESHOLDS == manifest["notes"]["thresholds"]
    assert list(settings.CXR_THRESHOLDS) == list(FINDINGS)
