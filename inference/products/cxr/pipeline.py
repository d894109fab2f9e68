"""One chest X-ray study through the findings network, on the worker: score, explain, report.

Everything a response or the output folder needs is made here, from the decoded study: the
findings at the product's thresholds, the overall result, the source image and the heatmap
as PNGs, the PDF report and, when the request asked for it (``dicom_output``), the heatmap
as a DICOM Secondary Capture in the source's study.  The worker returns bytes (base64),
never writes a file: files are the web tier's, so a GPU worker on another machine needs no
shared volume.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import numpy as np
from django.conf import settings
from pydicom import Dataset

from inference.imaging.dicom import to_png
from inference.imaging.secondary_capture import secondary_capture
from inference.products.cxr.labels import FINDINGS, NORMAL, overall_result
from inference.products.cxr.network import heatmap
from inference.products.cxr.render import encode_png, overlay
from inference.products.cxr.report import ReportInput, render_report
from inference.runtime.product import DISCLAIMER

#: Confidences are given with two decimals, as the seed shows them (0.87).
DECIMALS = 2
#: Who made the heatmap's Secondary Capture, as its Manufacturer and Model Name say.
MANUFACTURER = "Medical-imaging AI platform"
MODEL_NAME = "Chest X-ray DICOM analysis"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def findings_at_thresholds(probabilities: list[float]) -> list[dict[str, Any]]:
    """Every finding with its presence (at its threshold) and confidence, in seed order."""
    thresholds = settings.CXR_THRESHOLDS
    return [
        {
            "name": name,
            "presence": probability >= float(thresholds.get(name, 0.5)),
            "confidence": round(probability, DECIMALS),
        }
        for name, probability in zip(FINDINGS, probabilities, strict=True)
    ]


def analyse(models: Any, item: dict[str, Any], deadline: float | None) -> dict[str, Any]:
    """The worker's answer for one study (``item``: decoded by ``decoding.decoded_study``)."""
    scored = models.predict("findings", {"pixels": item["pixels"]}, deadline)
    findings = findings_at_thresholds(scored["probabilities"])
    present = [index for index, finding in enumerate(findings) if finding["presence"]]
    result = overall_result([FINDINGS[index] for index in present])
    source_png = to_png(item["study"])
    overlaid = overlay(item["pixels"], heatmap(scored["maps"], present)) if present else None
    heatmap_png = encode_png(overlaid) if overlaid is not None else None
    metadata = item.get("metadata", {})
    model_version = models.model_info()["model_version"] or ""
    report = render_report(
        ReportInput(
            institution=settings.CXR_INSTITUTION,
            patient_id=metadata.get("patient_id", ""),
            patient_name=metadata.get("patient_name", ""),
            age=metadata.get("age", ""),
            sex=metadata.get("sex", ""),
            sop_instance_uid=metadata.get("sop_instance_uid", ""),
            study_date=metadata.get("study_date", ""),
            study_instance_uid=metadata.get("study_instance_uid", ""),
            result=result,
            findings=findings if result != NORMAL else [],
            source_png=source_png,
            heatmap_png=heatmap_png,
            model_version=model_version,
            generated_at=datetime.now(UTC),
            disclaimer=DISCLAIMER,
        )
    )
    answer = {
        "result": result,
        # The seed: all 11 when any is present, [] when Normal.
        "findings": findings if result != NORMAL else [],
        "all_findings": findings,
        "source_png": _b64(source_png),
        "heatmap_png": _b64(heatmap_png) if heatmap_png is not None else "",
        "report_pdf": _b64(report),
    }
    if item.get("dicom_output"):
        # Normal: no heatmap, so no Secondary Capture either ("", as for the PNG).
        answer["heatmap_dicom"] = (
            _b64(
                heatmap_dicom(
                    item["source_header"], overlaid, [FINDINGS[i] for i in present], model_version
                )
            )
            if overlaid is not None
            else ""
        )
    return answer


def heatmap_dicom(
    source: Dataset, rgb: np.ndarray, present: list[str], model_version: str
) -> bytes:
    """The heatmap as a DICOM Secondary Capture in the source's study (``docs/cxr.md``)."""
    version = model_version or "unversioned model"
    return secondary_capture(
        source,
        rgb,
        series_description=f"Chest X-ray heatmap ({version})",
        derivation=(
            f"Class activation heatmap of {', '.join(present)} over the source image, "
            f"with a colour scale on the right; model {version}"
        ),
        manufacturer=MANUFACTURER,
        model_name=MODEL_NAME,
        software_version=version,
        comments=DISCLAIMER,
    )
