"""Models of the inference app, defined with the product that owns them."""

from inference.products.vhs.models import Measurement, Patient

__all__ = ["Measurement", "Patient"]
