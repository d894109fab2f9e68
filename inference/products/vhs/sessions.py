"""The rules of a picture-of-picture (PoP) capture session (seed 002 ``/v3/pop-session``).

Pure functions over a session's counters, so that each rule is tested on its own and the
HTTP view and the WebSocket consumer answer the same (``session_service`` applies them to
the stored session).  The seed fixes the limits (``session_config``) and the three answers
(``continue``, ``complete``, ``failed``); what it leaves open is decided here:

* **A good frame** is one measured with code 1, 2 or 4 and a ``model_confidence`` of
  ``optimal`` or ``good`` (spread below 0.008).  Code 3 is measured but asks for review, so
  it is no evidence that the capture is right; code 4 (VHS without VLAS) is good because a
  film whose left atrium is hidden never shows it, and VHS is what is billed.
* **Three good frames complete the session** (the seed's ``"0/3 good frames"``); the answer
  is the good frame the ensemble agrees on most (``analysis.summarise``: lowest spread,
  the earlier frame on a tie), as a batch chooses its best frame.
* **A failure** is a frame with no measurement: codes 0, 5, 6, 7, or a frame that could not
  be read (not JPEG/PNG, or over the size limits).  A code 3 frame is neither good nor a
  failure: it ends a run of failures.  The ``max_consecutive_failures``-th failure in a row
  (the 5th) fails the session with that frame's answer.
* **Frames**: ``max_frames`` (20) frames are measured; the next one (the 21st,
  ``frame_index`` 20, as the seed's failed example shows) fails the session unmeasured
  with ``max_frames_exceeded``.
* **TTL** runs from the session's start (``session_ttl_seconds``: the seed's "Session
  exceeds session_ttl_seconds"), not from the last frame: a session is a bounded capture,
  not an idle timer.  A frame arriving later fails it, unmeasured, with ``session_timeout``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps

from inference.products.vhs import responses
from inference.products.vhs.analysis import (
    RESULT_DESCRIPTIONS,
    FrameResult,
    summarise,
)
from inference.products.vhs.apps import VhsConfig

GOOD_CODES = frozenset({1, 2, 4})
GOOD_CONFIDENCES = frozenset({"optimal", "good"})

MAX_FRAMES_EXCEEDED = "max_frames_exceeded"
SESSION_TIMEOUT = "session_timeout"
MAX_CONSECUTIVE_FAILURES = "max_consecutive_failures"

#: Feedback for a frame the server could not read at all (no result code to explain).
UNREADABLE_FEEDBACK = (
    "unreadable_frame",
    "The frame could not be read: send the camera picture as a JPEG or PNG under 10 MB.",
)


@dataclass(frozen=True)
class Limits:
    """``session_config`` of the seed, and how many good frames complete a session."""

    max_frames: int
    max_consecutive_failures: int
    session_ttl_seconds: int
    good_frames_needed: int

    @classmethod
    def current(cls) -> Limits:
        vhs = apps.get_app_config(VhsConfig.label)
        return cls(
            max_frames=int(vhs.setting("VHS_POP_SESSION_MAX_FRAMES")),
            max_consecutive_failures=int(vhs.setting("VHS_POP_SESSION_MAX_CONSECUTIVE_FAILURES")),
            session_ttl_seconds=int(vhs.setting("VHS_POP_SESSION_TTL_SECONDS")),
            good_frames_needed=int(vhs.setting("VHS_POP_SESSION_GOOD_FRAMES")),
        )

    def as_config(self) -> dict[str, int]:
        """The seed's ``session_config`` object."""
        return {
            "max_frames": self.max_frames,
            "max_consecutive_failures": self.max_consecutive_failures,
            "session_ttl_seconds": self.session_ttl_seconds,
        }


@dataclass(frozen=True)
class Progress:
    """A session's counters before or after a frame."""

    frames_processed: int = 0
    good_frames: int = 0
    consecutive_failures: int = 0


def is_good(frame: FrameResult) -> bool:
    return frame.result_code in GOOD_CODES and frame.confidence in GOOD_CONFIDENCES


def is_failure(frame: FrameResult | None) -> bool:
    """No measurement: codes 0, 5, 6, 7, or an unreadable frame (``None``)."""
    return frame is None or not frame.measured


def refusal_before_measuring(progress: Progress, expired: bool, limits: Limits) -> str | None:
    """Why the next frame fails the session without being measured, if it does.

    Time is checked first: a session past its TTL has timed out whatever its frame count.
    """
    if expired:
        return SESSION_TIMEOUT
    if progress.frames_processed >= limits.max_frames:
        return MAX_FRAMES_EXCEEDED
    return None


@dataclass(frozen=True)
class Step:
    """What one counted frame did to the session."""

    progress: Progress
    good: bool
    #: ``complete``, ``failed`` or ``continue``.
    outcome: str
    error: str | None = None


def step(progress: Progress, frame: FrameResult | None, limits: Limits) -> Step:
    """The session after one measured (or unreadable, ``None``) frame."""
    good = frame is not None and is_good(frame)
    failures = progress.consecutive_failures + 1 if is_failure(frame) else 0
    after = Progress(
        frames_processed=progress.frames_processed + 1,
        good_frames=progress.good_frames + (1 if good else 0),
        consecutive_failures=failures,
    )
    if after.good_frames >= limits.good_frames_needed:
        return Step(after, good, "complete")
    if failures >= limits.max_consecutive_failures:
        return Step(after, good, "failed", MAX_CONSECUTIVE_FAILURES)
    return Step(after, good, "continue")


def best_of(frames: list[FrameResult]) -> int | None:
    """Index (in ``frames``) of the frame a completed session answers with."""
    return summarise(frames).best_index


def reason(progress: Progress, limits: Limits) -> str:
    """The seed's ``reason`` of a ``continue``: ``"1/3 good frames so far, need more"``."""
    text = f"{progress.good_frames}/{limits.good_frames_needed} good frames so far, need more"
    left = limits.max_frames - progress.frames_processed
    if left <= 0:
        return f"{text}; no frames left (max_frames {limits.max_frames})"
    return text


# --- answers --------------------------------------------------------------------------------


def started(session_id: str, health: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """``POST /v3/pop-session/start``'s answer (the seed's fields, from the health report)."""
    return {
        "session_id": session_id,
        "session_status": "ready",
        "pop_pipeline_enabled": health["pop_pipeline_enabled"],
        "models_loaded": health["models_loaded"],
        "pop_models_loaded": health["pop_models_loaded"],
        "model_version": health["model_version"],
        "session_config": limits.as_config(),
    }


#: ``frame_result`` of a frame that could not be read: nothing measured, nothing detected.
UNREAD_FRAME_RESULT: dict[str, Any] = {
    "vhs": None,
    "vlas": None,
    "spread": None,
    "model_confidence": "review",
    "landmarks_detected": False,
    "pop_detected": False,
}


def frame_result(frame: FrameResult) -> dict[str, Any]:
    """The seed's ``frame_result`` of a ``continue``."""
    return {
        "vhs": frame.vhs,
        "vlas": frame.vlas,
        "spread": round(frame.spread, 4) if frame.measured and frame.spread is not None else None,
        "model_confidence": frame.confidence if frame.measured else "review",
        "landmarks_detected": frame.measured,
        "pop_detected": frame.pop_detected,
    }


def continuing(
    session_id: str,
    frame_index: int,
    progress: Progress,
    limits: Limits,
    frame: FrameResult | None,
    model_version: str,
    feedback: tuple[str, str] | None,
    unreadable: str | None = None,
) -> dict[str, Any]:
    """A ``continue``: this frame's result, and what to do next (``feedback``).

    An unreadable frame has no result: ``result_code`` is null, ``frame_result`` says
    nothing was found, and ``result_description`` says what was wrong with the frame.
    """
    return {
        "session_id": session_id,
        "session_status": "continue",
        "reason": reason(progress, limits),
        "frame_index": frame_index,
        "frames_processed": progress.frames_processed,
        "good_frames": progress.good_frames,
        "result_code": frame.result_code if frame is not None else None,
        "result_description": (
            RESULT_DESCRIPTIONS[frame.result_code] if frame is not None else unreadable
        ),
        "frame_result": frame_result(frame) if frame is not None else UNREAD_FRAME_RESULT,
        "model_version": model_version,
        "feedback": feedback[1] if feedback else None,
        "feedback_class": feedback[0] if feedback else None,
    }


def completed(
    session_id: str,
    frame_index: int,
    best: FrameResult,
    best_frame_index: int,
    model_version: str,
    rectified_image: str | None,
    rendered_image: str | None,
    history: tuple[list, list] | None,
    billing: dict[str, Any],
    measurement_id: int | None = None,
) -> dict[str, Any]:
    """A ``complete``: the chosen frame's measurement with its own result code (1, 2 or 4;
    not the seed example's ``0``/"Success", since code 0 is never billed), and the stored
    measurement's id (beyond the seed: what a correction or a report names)."""
    prediction = responses.measurement(best)
    prediction.update(
        {
            "model_version": model_version,
            "rendered_image": rendered_image,
            "pop_detected": best.pop_detected,
            "frame_index": best_frame_index,
        }
    )
    prediction["historic_vhs"], prediction["historic_vlas"] = (
        history if history is not None else (None, None)
    )
    prediction["measurement_id"] = measurement_id
    return {
        "session_id": session_id,
        "session_status": "complete",
        "frame_index": frame_index,
        "rectified_image": rectified_image,
        "prediction": prediction,
        "billing": billing,
    }


def failed(
    session_id: str, frame_index: int, error: str, progress: Progress, billing: dict[str, Any]
) -> dict[str, Any]:
    """A ``failed``: why (``error``), never billed."""
    return {
        "session_id": session_id,
        "session_status": "failed",
        "frame_index": frame_index,
        "error": error,
        "frames_processed": progress.frames_processed,
        "good_frames": progress.good_frames,
        "billing": billing,
    }


def frames_from_json(rows: Iterable[dict[str, Any]]) -> list[FrameResult]:
    """Stored good frames back as ``FrameResult`` (landmarks come back as lists)."""
    fields = set(FrameResult.__dataclass_fields__)
    return [FrameResult(**{k: v for k, v in row.items() if k in fields}) for row in rows]
