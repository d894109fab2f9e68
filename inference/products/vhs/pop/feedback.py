"""One actionable sentence for the person holding the phone (numpy-free: the web tier).

``feedback_for(result_code, pop_detected, quality)`` reads what the PoP pipeline saw of a frame
(``pop.ScreenFinding.quality``) and its result code, and names the first problem, in the
order a person should fix them: the screen not fully in view, glare, blur, too much tilt (for a
photo of a screen: they can be why its radiograph was turned away), then not a radiograph
(code 6), the screen not found at all (code 7) or the heart not measurable (code 5).  None
when the frame was good: measured (codes 1-4) with no problem seen.
"""

from __future__ import annotations

from typing import Any

#: Share of the screen's pixels clipped white above which glare is reported.
GLARE_LIMIT = 0.01
#: ``sharpness`` below which the frame counts as blurred.
SHARPNESS_LIMIT = 0.35
#: Tilt (degrees between the screen's normal and the camera's axis) above which to say so.
TILT_LIMIT = 35.0

SENTENCES: dict[str, str] = {
    "not_a_radiograph": "This does not look like a radiograph: point the phone at the "
    "screen showing the lateral chest radiograph.",
    "not_in_view": "The screen is not fully in view: step back or zoom out until all four "
    "corners of the image are in the picture.",
    "glare": "Glare on the screen: tilt the phone a little or dim the room lights.",
    "blur": "The photo is blurred: hold the phone steady and tap the screen to focus.",
    "tilt": "The phone is at a steep angle to the screen: hold it straight in front of the screen.",
    "screen_not_found": "The screen's edges could not be found: fill most of the picture "
    "with the screen, with all four corners visible.",
    "not_measurable": "The heart or the spine is not fully visible: show the whole lateral "
    "chest on the screen, without zooming in.",
}


def problems(result_code: int, pop_detected: bool, quality: dict[str, Any] | None) -> list[str]:
    """Every feedback class the frame shows, most urgent first."""
    found: list[str] = []
    quality = quality or {}
    if pop_detected:
        if quality.get("screen_in_view") is False:
            found.append("not_in_view")
        if (quality.get("glare") or 0.0) > GLARE_LIMIT:
            found.append("glare")
        sharpness = quality.get("sharpness")
        if sharpness is not None and sharpness < SHARPNESS_LIMIT:
            found.append("blur")
        if (quality.get("tilt_degrees") or 0.0) > TILT_LIMIT:
            found.append("tilt")
    # After the photo's own problems: glare or blur on a screen can be why the radiograph
    # classifier turned the rectified screen away, and they are what the person can fix.
    if result_code == 6:
        found.append("not_a_radiograph")
    if result_code == 7 and not found:
        found.append("screen_not_found")
    if result_code == 5 and not found:
        found.append("not_measurable")
    return found


def feedback_for(
    result_code: int, pop_detected: bool, quality: dict[str, Any] | None
) -> tuple[str, str] | None:
    """``(class, sentence)`` for the most urgent problem of the frame, or None when it was
    good."""
    found = problems(result_code, pop_detected, quality)
    if not found:
        return None
    return found[0], SENTENCES[found[0]]
