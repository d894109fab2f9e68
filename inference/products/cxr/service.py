"""The chest X-ray product's services, in the web tier: prepare, analyse, deliver, settle.

* ``prepare``: every check of the seed's validation table that needs the file system or
  the DICOM header, in the table's order, with its message; the study's bytes are read
  once, from inside the allowed roots, and its header gives the patient and the study.
* ``analyse``: the study on a worker (bytes beside the task; the worker decodes, scores,
  renders the PNGs and the PDF).
* ``deliver``: the ``Data`` object, with the files written as one set (``outputs``) when
  ``save_to_disk``, or base64 PNGs.  With a Normal result there is no heatmap: the field is
  ``""`` and no heatmap file is written (the set has the other three).  With
  ``dicom_output`` the heatmap comes as a DICOM Secondary Capture too, ``heatmap_dicom`` (a
  path, ``<patient_id>_heatmap.dcm`` in the same set, or base64; ``""`` when Normal); without
  it ``Data`` is the seed's, no field added.
* ``settle``: the study record and the call's usage, in one transaction.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from rest_framework.exceptions import APIException, ValidationError

from accounts.models import ApiKey, Customer
from billing import engine
from inference.api.inference import run_items
from inference.imaging.dicom import DicomHeader, DicomRejected, read_header
from inference.imaging.secondary_capture import missing_references
from inference.products.cxr.apps import CxrConfig
from inference.products.cxr.decoding import decoded_size
from inference.products.cxr.models import Study
from inference.products.cxr.outputs import OutputFolderError, write_set
from inference.products.cxr.paths import PathRefused, confine, is_safe_patient_id, roots_from

PRODUCT = CxrConfig.product


class OutputFolderFailed(APIException):
    """The seed's 500 ``Unable to create output folder: ...``."""

    status_code = 500


class StudyTooLarge(APIException):
    status_code = 413


@dataclass
class PreparedStudy:
    """A study that passed every check: its bytes, header, patient id, output folder, and
    whether the heatmap is wanted as DICOM too."""

    data: bytes
    header: DicomHeader
    patient_id: str
    output_folder: Path | None
    dicom_output: bool = False

    def metadata(self, model_version: str) -> dict[str, str]:
        """The seed's ``metadata`` object (empty strings for absent tags)."""
        header = self.header
        return {
            "model_version": model_version,
            "patient_id": self.patient_id,
            "patient_name": header.patient_name or "",
            "sop_instance_uid": header.sop_instance_uid or "",
            "age": header.patient_age or "",
            "sex": header.patient_sex or "",
        }


def _refuse(message: str) -> ValidationError:
    return ValidationError(message)


def read_study(data: bytes, requested_patient_id: str | None) -> tuple[DicomHeader, str]:
    """The header of ``data`` and the patient id the outputs are named by."""
    try:
        header = read_header(data)
    except DicomRejected as exc:
        raise _refuse(f"Invalid DICOM image, unable to fetch patient ID: {exc.message}") from exc
    if header.rows and header.columns:
        pixels = header.rows * header.columns * (header.number_of_frames or 1)
        if pixels > settings.CXR_MAX_PIXELS:
            raise StudyTooLarge(
                f"DICOM image has {header.rows}x{header.columns} pixels per frame, more than "
                f"the {settings.CXR_MAX_PIXELS:,} allowed"
            )
    patient_id = requested_patient_id or (header.patient_id or "").strip()
    if not patient_id:
        raise _refuse("Patient ID is empty or None in the request and in the DICOM header")
    if not is_safe_patient_id(patient_id):
        raise _refuse(f"Invalid patient_id: {patient_id!r} in the DICOM header")
    return header, patient_id


def check_derivable(header: DicomHeader) -> None:
    """With ``dicom_output``: the header has the UIDs a Secondary Capture in its study needs."""
    missing = missing_references(
        {
            "StudyInstanceUID": header.study_instance_uid,
            "SOPClassUID": header.sop_class_uid,
            "SOPInstanceUID": header.sop_instance_uid,
        }
    )
    if missing:
        raise _refuse(f"dicom_output needs a valid {', '.join(missing)} in the DICOM header")


def prepare(request_data: dict[str, Any], customer_id: int | None = None) -> PreparedStudy:
    """The checked study of a validated ``single_inference`` body (see the module doc), its
    paths inside the roots of the calling customer (``paths.CUSTOMER_PLACEHOLDER``)."""
    raw_path = request_data["input_image_path"]
    input_roots = roots_from(settings.CXR_INPUT_ROOTS, customer_id)
    try:
        path = confine(raw_path, input_roots, "input_image_path")
    except PathRefused as exc:
        raise _refuse(exc.message) from exc
    if not path.is_file():
        raise _refuse(f"Input image path does not exist: {raw_path}")
    if path.suffix.lower() != ".dcm":
        raise _refuse(f"Requested image is not a DICOM file: {raw_path}")
    if path.stat().st_size > settings.CXR_MAX_DICOM_BYTES:
        raise StudyTooLarge(
            f"DICOM file exceeds the maximum of {settings.CXR_MAX_DICOM_BYTES} bytes: {raw_path}"
        )
    data = path.read_bytes()
    header, patient_id = read_study(data, request_data.get("patient_id"))
    dicom_output = bool(request_data.get("dicom_output"))
    if dicom_output:
        check_derivable(header)
    output_folder = None
    if request_data["save_to_disk"]:
        raw_output = request_data["output_folder_path"]
        try:
            output_roots = roots_from(settings.CXR_OUTPUT_ROOTS, customer_id)
            root = confine(raw_output, output_roots, "output_folder_path")
        except PathRefused as exc:
            raise _refuse(exc.message) from exc
        output_folder = root / patient_id
    return PreparedStudy(data, header, patient_id, output_folder, dicom_output)


def prepare_upload(
    data: bytes, requested_patient_id: str | None, *, dicom_output: bool = False
) -> PreparedStudy:
    """The checked study of an uploaded file (no paths: its outputs go in the response)."""
    if len(data) > settings.CXR_MAX_DICOM_BYTES:
        raise StudyTooLarge(
            f"DICOM file exceeds the maximum of {settings.CXR_MAX_DICOM_BYTES} bytes"
        )
    if requested_patient_id and not is_safe_patient_id(requested_patient_id):
        raise _refuse(f"Invalid patient_id: {requested_patient_id!r} in request body")
    header, patient_id = read_study(data, requested_patient_id or None)
    if dicom_output:
        check_derivable(header)
    return PreparedStudy(data, header, patient_id, output_folder=None, dicom_output=dicom_output)


async def analyse(study: PreparedStudy) -> dict[str, Any]:
    """The worker's analysis of the study (findings, PNGs, the PDF and, when asked for, the
    heatmap's Secondary Capture, base64)."""
    header = study.header
    item: dict[str, Any] = {
        "image_bytes": study.data,
        "decoded_bytes": decoded_size(header.rows or 1, header.columns or 1),
        "metadata": {
            **study.metadata(""),
            "study_date": header.study_date or "",
            "study_instance_uid": header.study_instance_uid or "",
        },
    }
    if study.dicom_output:
        item["dicom_output"] = True
    study.data = b""  # the bytes now travel beside the task; nothing here keeps them
    (result,) = await run_items(PRODUCT, [item])
    return result


def deliver(study: PreparedStudy, result: dict[str, Any]) -> dict[str, Any]:
    """The response's ``Data``; with an output folder, its files are written first."""
    metadata = study.metadata(result["model"]["model_version"] or "")
    data: dict[str, Any] = {
        "result": result["result"],
        "findings": result["findings"],
        "source_image": result["source_png"],
        "heatmap": result["heatmap_png"],
    }
    if study.dicom_output:  # an addition to the seed's Data, only when asked for
        data["heatmap_dicom"] = result["heatmap_dicom"]
    data["metadata"] = metadata
    if study.output_folder is None:
        return data
    pid = study.patient_id
    folder = study.output_folder
    data["source_image"] = str(folder / f"{pid}_source_image.png")
    data["heatmap"] = str(folder / f"{pid}_heatmap.png") if result["heatmap_png"] else ""
    if study.dicom_output:
        dicom = result["heatmap_dicom"]
        data["heatmap_dicom"] = str(folder / f"{pid}_heatmap.dcm") if dicom else ""
    files = {
        # "the full inference output": the same object as Data, paths included.
        f"{pid}_predictions.json": json.dumps(data, indent=2).encode(),
        f"{pid}_source_image.png": _decode(result["source_png"]),
        f"{pid}_report.pdf": _decode(result["report_pdf"]),
    }
    if result["heatmap_png"]:
        files[f"{pid}_heatmap.png"] = _decode(result["heatmap_png"])
    if study.dicom_output and result["heatmap_dicom"]:
        files[f"{pid}_heatmap.dcm"] = _decode(result["heatmap_dicom"])
    try:
        write_set(folder, files)
    except OutputFolderError as exc:
        raise OutputFolderFailed(str(exc)) from exc
    return data


def _decode(text: str) -> bytes:
    return base64.b64decode(text)


def _uid(value: str | None) -> str:
    """A UID as the record keeps it: at most 64 characters, as DICOM allows."""
    return (value or "")[:64]


def _date(value: str | None) -> str:
    """A DICOM date (``YYYYMMDD``), or empty for anything a malformed header holds there."""
    text = (value or "").strip()
    return text if len(text) == 8 and text.isdigit() else ""


def settle(
    *,
    customer: Customer,
    api_key: ApiKey | None,
    study: PreparedStudy,
    data: dict[str, Any],
    all_findings: list[dict[str, Any]],
    endpoint: str,
    request_id: str = "",
) -> engine.BillingDecision:
    """The study record and the call's usage, in one transaction (retried on a lock)."""

    def once() -> engine.BillingDecision:
        with transaction.atomic():
            Study.objects.create(
                customer=customer,
                patient_id=study.patient_id,
                sop_instance_uid=_uid(study.header.sop_instance_uid),
                study_instance_uid=_uid(study.header.study_instance_uid),
                study_date=_date(study.header.study_date),
                result=data["result"],
                findings=all_findings,
                model_version=data["metadata"]["model_version"],
                output_folder=str(study.output_folder or ""),
                request_id=request_id,
            )
            return engine.record(
                customer=customer,
                api_key=api_key,
                product=PRODUCT,
                endpoint=endpoint,
                call_type="single",
                result_code=None,
                # No patient identifier in the usage ledger, and so no 24 h recheck grace:
                # that rule is the veterinary product's (seed 002), not this one's.
                request_id=request_id,
            )

    return engine.with_retries(once, what="settling a call")
