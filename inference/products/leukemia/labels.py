"""The leukemia product's classes and confidence bands, as its contract states them."""

from __future__ import annotations

CLASSES: tuple[str, ...] = ("Benign", "Early", "Pre", "Pro")

DESCRIPTIONS: dict[str, str] = {
    "Benign": "Normal healthy white blood cells",
    "Early": "Early stage leukemia cells",
    "Pre": "Pre stage leukemia cells",
    "Pro": "Pro stage leukemia cells",
}

CONFIDENCE_LEVELS: dict[str, str] = {
    "high": "> 80%: model is very confident in prediction",
    "medium": "60-80%: moderate confidence, consider additional analysis",
    "low": "< 60%: low confidence, manual review recommended",
}


def confidence_level(confidence: float) -> str:
    """high above 0.80, medium from 0.60 to 0.80, low below 0.60 (seed 000)."""
    if confidence > 0.80:
        return "high"
    if confidence >= 0.60:
        return "medium"
    return "low"
