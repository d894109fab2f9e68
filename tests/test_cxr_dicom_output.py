"""The chest X-ray heatmap as a DICOM Secondary Capture in the source's study (dicom_output)."""

from __future__ import annotations

import base64
import copy
import io
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.apps import apps
from PIL import Image

if not apps.is_installed("inference.products.cxr"):
    pytest.skip("the chest X-ray product is not listed yet", allow_module_level=True)

from billing.models import UsageEvent
from inference.imaging.dicom import read_header_dataset
from inference.imaging.secondary_capture import (
    GENERAL_STUDY,
    PATIENT,
    PATIENT_STUDY,
    REFERENCES,
    missing_references,
    secondary_capture,
)
from inference.products.cxr.labels import FINDINGS
from tests import test_cxr_api as cxr_api

# The API tests' fixtures and helpers (pytest finds a fixture by its name in the module).
roots, phantom, study_path = cxr_api.roots, cxr_api.phantom, cxr_api.study_path
customer, token, call = cxr_api.customer, cxr_api.token, cxr_api.call
body, failure = cxr_api.body, cxr_api.failure

# Every response here is checked against the published schema too (tests/schema_check.py).
pytestmark = [pytest.mark.django_db, pytest.mark.schema_checked]

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
SEED_DATA = {"result", "findings", "source_image", "heatmap", "metadata"}


@pytest.fixture
def every_finding(settings) -> None:
    """Every finding present, so the study has a heatmap whatever the model scores."""
    settings.CXR_THRESHOLDS = dict.fromkeys(FINDINGS, 0.0)


@pytest.fixture
def no_finding(settings) -> None:
    settings.CXR_THRESHOLDS = dict.fromkeys(FINDINGS, 1.01)


def _source(path: Path) -> pydicom.Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)


def _png_pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def assert_secondary_capture_of(capture: bytes, source_path: Path, heatmap_png: bytes) -> None:
    """``capture`` is the heatmap, as an RGB Secondary Capture in the source's study."""
    source = _source(source_path)
    sc = pydicom.dcmread(io.BytesIO(capture))

    assert sc.SOPClassUID == SECONDARY_CAPTURE
    assert sc.file_meta.MediaStorageSOPClassUID == SECONDARY_CAPTURE
    assert sc.StudyInstanceUID == source.StudyInstanceUID
    assert sc.SeriesInstanceUID != source.SeriesInstanceUID
    assert sc.SOPInstanceUID not in (source.SOPInstanceUID, sc.SeriesInstanceUID)
    (reference,) = sc.SourceImageSequence
    assert reference.ReferencedSOPClassUID == source.SOPClassUID
    assert reference.ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert reference.PurposeOfReferenceCodeSequence[0].CodeValue == "121322"
    for keyword in ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "PatientAge"):
        assert sc[keyword].value == source[keyword].value, keyword
    for keyword in ("StudyDate", "StudyTime", "AccessionNumber", "StudyID", "StudyDescription"):
        assert sc[keyword].value == source[keyword].value, keyword
    assert sc.PatientOrientation == source.PatientOrientation
    assert list(sc.ImageType[:2]) == ["DERIVED", "SECONDARY"]
    assert sc.Modality == "OT"
    assert sc.SeriesDescription == "Chest X-ray heatmap (cxr-ref-phantom-1.0)"
    assert sc.SoftwareVersions == "cxr-ref-phantom-1.0"
    assert "not a medical device" in sc.ImageComments
    assert (sc.PhotometricInterpretation, sc.SamplesPerPixel) == ("RGB", 3)
    assert (sc.BitsAllocated, sc.BitsStored, sc.PlanarConfiguration) == (8, 8, 0)
    pixels = sc.pixel_array
    assert pixels.shape == (sc.Rows, sc.Columns, 3)
    assert pixels.dtype == np.uint8
    assert sc.Rows == source.Rows
    assert sc.Columns > source.Columns  # the colour bar's
    np.testing.assert_array_equal(pixels, _png_pixels(heatmap_png))


# --- through the API ----------------------------------------------------------------------------


def test_save_to_disk_writes_the_secondary_capture_into_the_set_and_returns_its_path(
    every_finding, call, study_path, roots
):
    response = call(body(study_path, roots, dicom_output=True))

    assert response.status_code == 200, response.content
    data = response.json()["Data"]
    folder = roots[1] / "PAT001"
    assert data["heatmap_dicom"] == str(folder / "PAT001_heatmap.dcm")
    assert sorted(p.name for p in folder.iterdir()) == [
        "PAT001_heatmap.dcm",
        "PAT001_heatmap.png",
        "PAT001_predictions.json",
        "PAT001_report.pdf",
        "PAT001_source_image.png",
    ]
    assert json.loads((folder / "PAT001_predictions.json").read_text()) == data
    assert_secondary_capture_of(
        (folder / "PAT001_heatmap.dcm").read_bytes(),
        study_path,
        (folder / "PAT001_heatmap.png").read_bytes(),
    )


def test_without_save_to_disk_the_secondary_capture_comes_back_as_base64(
    every_finding, call, study_path, roots
):
    response = call(body(study_path, roots, save_to_disk=False, dicom_output=True))

    data = response.json()["Data"]
    assert list(data) == [
        "result",
        "findings",
        "source_image",
        "heatmap",
        "heatmap_dicom",
        "metadata",
    ]
    assert list(roots[1].iterdir()) == []
    assert_secondary_capture_of(
        base64.b64decode(data["heatmap_dicom"]), study_path, base64.b64decode(data["heatmap"])
    )


def test_the_upload_endpoint_returns_the_secondary_capture_as_base64(
    every_finding, client, token, study_path
):
    with open(study_path, "rb") as handle:
        response = client.post(
            "/cxr/single_inference/upload",
            {"file": handle, "dicom_output": "true"},
            headers={"Authorization": token},
        )

    assert response.status_code == 200, response.content
    data = response.json()["Data"]
    assert base64.b64decode(data["report"]).startswith(b"%PDF")
    assert_secondary_capture_of(
        base64.b64decode(data["heatmap_dicom"]), study_path, base64.b64decode(data["heatmap"])
    )


def test_each_call_makes_a_new_instance_in_a_new_series(every_finding, call, study_path, roots):
    request = body(study_path, roots, save_to_disk=False, dicom_output=True)

    first, second = (
        pydicom.dcmread(io.BytesIO(base64.b64decode(call(request).json()["Data"]["heatmap_dicom"])))
        for _ in range(2)
    )

    assert first.StudyInstanceUID == second.StudyInstanceUID
    assert first.SeriesInstanceUID != second.SeriesInstanceUID
    assert first.SOPInstanceUID != second.SOPInstanceUID


@pytest.mark.parametrize("save_to_disk", [True, False])
def test_a_normal_study_has_no_secondary_capture(no_finding, call, study_path, roots, save_to_disk):
    response = call(body(study_path, roots, save_to_disk=save_to_disk, dicom_output=True))

    data = response.json()["Data"]
    assert (data["result"], data["heatmap"], data["heatmap_dicom"]) == ("Normal", "", "")
    if save_to_disk:
        folder = roots[1] / "PAT001"
        assert sorted(p.name for p in folder.iterdir()) == [
            "PAT001_predictions.json",
            "PAT001_report.pdf",
            "PAT001_source_image.png",
        ]
        assert json.loads((folder / "PAT001_predictions.json").read_text())["heatmap_dicom"] == ""
    else:
        assert list(roots[1].iterdir()) == []


def test_a_later_normal_result_leaves_no_stale_secondary_capture(
    settings, every_finding, call, study_path, roots
):
    folder = roots[1] / "PAT001"
    call(body(study_path, roots, dicom_output=True))
    assert (folder / "PAT001_heatmap.dcm").is_file()
    settings.CXR_THRESHOLDS = dict.fromkeys(FINDINGS, 1.01)

    data = call(body(study_path, roots, dicom_output=True)).json()["Data"]

    assert data["heatmap_dicom"] == ""
    assert not (folder / "PAT001_heatmap.dcm").exists()
    assert not (folder / "PAT001_heatmap.png").exists()


@pytest.mark.parametrize("changes", [{}, {"dicom_output": False}])
def test_without_dicom_output_data_is_the_seeds(every_finding, call, study_path, roots, changes):
    data = call(body(study_path, roots, **changes)).json()["Data"]

    assert set(data) == SEED_DATA
    assert not (roots[1] / "PAT001" / "PAT001_heatmap.dcm").exists()


def test_without_dicom_output_the_upload_answers_without_the_field(client, token, study_path):
    with open(study_path, "rb") as handle:
        response = client.post(
            "/cxr/single_inference/upload", {"file": handle}, headers={"Authorization": token}
        )

    assert set(response.json()["Data"]) == SEED_DATA | {"report"}


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, []])
def test_dicom_output_must_be_a_boolean(call, study_path, roots, value):
    message = failure(call(body(study_path, roots, dicom_output=value)), 400)

    assert message == f"Invalid value for dicom_output, should be a boolean: {value!r}"
    assert UsageEvent.objects.count() == 0


@pytest.mark.parametrize("value", ["yes", "1", "on", "null"])
def test_the_uploads_dicom_output_must_be_true_or_false(client, token, study_path, value):
    with open(study_path, "rb") as handle:
        response = client.post(
            "/cxr/single_inference/upload",
            {"file": handle, "dicom_output": value},
            headers={"Authorization": token},
        )

    message = failure(response, 400)
    assert message == f"Invalid value for dicom_output, should be a boolean: {value!r}"


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_a_source_without_a_valid_study_uid_is_refused_before_the_analysis(call, roots, phantom):
    dataset = copy.deepcopy(phantom.dataset)
    dataset.StudyInstanceUID = "not-a-uid"
    path = roots[0] / "no-study.dcm"
    dataset.save_as(path, enforce_file_format=True)

    message = failure(call(body(path, roots, dicom_output=True)), 400)

    assert message == "dicom_output needs a valid StudyInstanceUID in the DICOM header"
    assert UsageEvent.objects.count() == 0
    assert list(roots[1].iterdir()) == []


# --- the builder, without the API ---------------------------------------------------------------


def _build(source: pydicom.Dataset, rgb: np.ndarray | None = None) -> pydicom.Dataset:
    rgb = np.full((4, 6, 3), 200, np.uint8) if rgb is None else rgb
    capture = secondary_capture(
        source,
        rgb,
        series_description="Test heatmap (v1)",
        derivation="test",
        manufacturer="tests",
        model_name="tests",
        software_version="v1",
    )
    return pydicom.dcmread(io.BytesIO(capture))


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
def test_patient_and_study_are_copied_as_stored_even_where_highdicom_would_refuse_them(phantom):
    source = copy.deepcopy(phantom.dataset)
    del source.PixelData
    source.PatientName = "Anonymous"  # no '^': highdicom's own check refuses it
    source.StudyDate = "2015-01-01"  # not a DICOM date
    source.OtherPatientIDsSequence = [pydicom.Dataset()]
    source.OtherPatientIDsSequence[0].PatientID = "MRN-7"
    del source.PatientOrientation

    sc = _build(source)

    assert (sc.PatientName, sc.StudyDate) == ("Anonymous", "2015-01-01")
    assert sc.OtherPatientIDsSequence[0].PatientID == "MRN-7"
    assert sc.PatientOrientation == ""
    assert sc.SpecificCharacterSet == source.SpecificCharacterSet


def test_text_in_another_character_set_survives_the_copy(phantom):
    source = copy.deepcopy(phantom.dataset)
    del source.PixelData
    source.SpecificCharacterSet = "ISO_IR 192"
    source.PatientName = "Ünal^Zoë"
    raw = io.BytesIO()
    source.save_as(raw, enforce_file_format=True)

    sc = _build(read_header_dataset(raw.getvalue()))

    assert (sc.SpecificCharacterSet, str(sc.PatientName)) == ("ISO_IR 192", "Ünal^Zoë")


def test_a_source_without_the_uids_to_reference_is_refused(phantom):
    source = copy.deepcopy(phantom.dataset)
    del source.SOPClassUID

    assert missing_references({k: source.get(k) for k in REFERENCES}) == ["SOPClassUID"]
    with pytest.raises(ValueError, match="the source has no valid SOPClassUID"):
        _build(source)


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on the odder files' encodings
def test_every_bundled_pydicom_image_with_its_uids_gives_a_readable_secondary_capture():
    """Whatever else a real header holds (character sets, private tags, odd values), the
    copy makes a file pydicom reads back with the source's patient and study."""
    from tests.test_dicom_reading import BUNDLED, REJECTED, TEST_FILES

    built = 0
    for name in BUNDLED:
        if name in REJECTED:
            continue
        source = read_header_dataset((TEST_FILES / name).read_bytes())
        if missing_references({k: source.get(k) for k in REFERENCES}):
            continue
        sc = _build(source)
        assert sc.StudyInstanceUID == source.StudyInstanceUID, name
        # Absent from the source, a type 2 attribute is there and empty.
        assert (sc.PatientID or None) == (source.get("PatientID") or None), name
        assert str(sc.PatientName or "") == str(source.get("PatientName") or ""), name
        assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID, name
        assert sc.pixel_array.shape == (4, 6, 3), name
        built += 1
    assert built >= 80  # of 90; four have no StudyInstanceUID


def test_the_copied_modules_are_the_standards_patient_and_study_modules():
    from highdicom._standard_utils import get_module_attribute_map

    modules = get_module_attribute_map()

    def top_level(module: str) -> tuple[str, ...]:
        return tuple(a["keyword"] for a in modules[module] if not a["path"])

    assert PATIENT == top_level("patient")
    assert PATIENT_STUDY == top_level("patient-study")
    assert GENERAL_STUDY == top_level("general-study")


def test_the_schema_documents_the_request_field_and_the_optional_response_field():
    from tests.schema_check import published_schema

    components = published_schema()["components"]["schemas"]

    for request in ("CxrSingleInferenceRequest", "CxrUploadRequest"):
        field = components[request]["properties"]["dicom_output"]
        assert (field["type"], field["default"]) == ("boolean", False)
        assert "Secondary Capture" in field["description"]
    data = components["CxrData"]
    assert "heatmap_dicom" in data["properties"]
    assert "heatmap_dicom" not in data["required"]
