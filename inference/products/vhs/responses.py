"""The seed's response bodies for ``POST /v3/predict``, built in one place."""

from __future__ import annotations

from typing import Any

from inference.products.vhs.analysis import (
    RESULT_DESCRIPTIONS,
    FrameResult,
    median_or_none,
    prediction_list,
    std_or_none,
    summarise,
)

REJECTION_REASON = "not_a_valid_radiograph"


def measurement(frame: FrameResult) -> dict[str, Any]:
    """The seed's measurement fields of one image, in its order (a single ``predict`` and a
    completed PoP session's ``prediction`` both start with them)."""
    return {
        "vhs": frame.vhs,
        "vlas": frame.vlas,
        "prediction": prediction_list(frame.landmarks or {}),
        "result_code": frame.result_code,
        "result_description": RESULT_DESCRIPTIONS[frame.result_code],
        "model_confidence": frame.confidence,
        "spread": round(frame.spread, 4) if frame.spread is not None else None,
    }


def single(
    frame: FrameResult,
    model_version: str,
    rendered_image: str | None,
    history: tuple[list, list] | None,
) -> dict[str, Any]:
    """One image. A rejected image has the seed's rejection shape, without the standard
    fields that have no meaning for it (prediction, confidence, spread, history, …)."""
    if frame.rejected:
        return {
            "classifier_confidence": round(frame.classifier_confidence, 4),
            "model_version": model_version,
            "rejected": True,
            "rejection_reason": REJECTION_REASON,
            "result_code": 6,
            "result_description": RESULT_DESCRIPTIONS[6],
            "vhs": None,
            "vlas": None,
        }
    body = measurement(frame)
    body["pop_detected"] = frame.pop_detected
    body["model_version"] = model_version
    if rendered_image is not None:
        body["rendered_image"] = rendered_image
    body["historic_vhs"], body["historic_vlas"] = history if history is not None else (None, None)
    return body


def per_photo(frame: FrameResult, rendered_image: str | None) -> dict[str, Any]:
    """One image of a batch or stream.  ``result_code`` is an addition to the seed (which
    gives none per image), so that a code 7 (PoP photo not rectified) and a code 6 (not a
    radiograph) can be told apart."""
    if frame.rejected:
        return {
            "vhs": None,
            "vlas": None,
            "spread": None,
            "model_confidence": "review",
            "landmarks_detected": False,
            "axes_perpendicular": False,
            "rejected": True,
            "rejection_reason": REJECTION_REASON,
            "classifier_confidence": round(frame.classifier_confidence, 4),
            "result_code": 6,
        }
    entry: dict[str, Any] = {
        "vhs": frame.vhs,
        "vlas": frame.vlas,
        "spread": round(frame.spread, 4) if frame.spread is not None else None,
        "model_confidence": frame.confidence if frame.measured else "review",
        "landmarks_detected": frame.measured,
        "axes_perpendicular": frame.axes_perpendicular if frame.measured else False,
        "result_code": frame.result_code,
    }
    if frame.measured:
        entry["pop_detected"] = frame.pop_detected
    if rendered_image is not None:
        entry["rendered_image"] = rendered_image
    return entry


def batch(
    frames: list[FrameResult],
    model_version: str,
    rendered_images: list[str | None],
    history: tuple[list, list] | None,
) -> dict[str, Any]:
    summary = summarise(frames)
    with_vhs = [frames[i].vhs for i in summary.measured]
    with_vlas = [frames[i].vlas for i in summary.measured if frames[i].vlas is not None]
    best = frames[summary.best_index] if summary.best_index is not None else None
    vlas_frames = [frames[i] for i in summary.measured if frames[i].vlas is not None]
    best_vlas_frame = min(vlas_frames, key=lambda f: f.spread or 0.0) if vlas_frames else None
    body: dict[str, Any] = {
        "vhs": best.vhs if best else None,
        "vlas": best_vlas_frame.vlas if best_vlas_frame else None,
        "best_photo_index": summary.best_index,
        "best_vhs": best.vhs if best else None,
        "best_vlas": best_vlas_frame.vlas if best_vlas_frame else None,
        "median_vhs": median_or_none(with_vhs),
        "median_vlas": median_or_none(with_vlas),
        "vhs_std": std_or_none(with_vhs),
        "vlas_std": std_or_none(with_vlas),
        "vhs_confidence": best.confidence if best else "review",
        "vlas_confidence": best_vlas_frame.confidence if best_vlas_frame else "review",
        "n_photos_processed": len(frames),
        "n_photos_with_landmarks": len(summary.measured),
        "processing_started": True,
        "per_photo": [
            per_photo(frame, image) for frame, image in zip(frames, rendered_images, strict=True)
        ],
    }
    body["historic_vhs"], body["historic_vlas"] = history if history is not None else (None, None)
    body["model_version"] = model_version
    return body
