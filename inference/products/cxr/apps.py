"""The chest X-ray DICOM analysis product's declaration (seed 001), mounted at ``/cxr/``."""

from pathlib import Path

from billing.rules import ValueRule
from inference.runtime.product import ModelGroup, ProductConfig, ReferenceModels

_VAR = Path(__file__).resolve().parents[3] / "var" / "cxr"


class CxrConfig(ProductConfig):
    name = "inference.products.cxr"
    label = "cxr"
    verbose_name = "Chest X-ray DICOM analysis"
    default_auto_field = "django.db.models.BigAutoField"

    product = "cxr"
    url_prefix = "cxr/"
    model_groups = (
        ModelGroup(
            "findings",
            "inference.products.cxr.predictor.FindingsPredictor",
            "multi-label CNN over the 11 findings, with class activation maps",
        ),
    )
    decoder = "inference.products.cxr.decoding.decoded_study"
    pipeline = "inference.products.cxr.pipeline.analyse"
    # Every completed analysis is a call of value; no tier prices it by default (0.00).
    value_rule = ValueRule(
        valued_codes=None,
        billed_reason="analysed",
        free_reason="not_analysed",
        meter_event="cxr_usage_cents",
        price_required=False,
    )
    envelope = "inference.products.cxr.envelope.ENVELOPE"
    reference_models = ReferenceModels(
        model_version="cxr-ref-phantom-1.0",
        training="inference.products.cxr.training",
        evaluation="inference.products.cxr.evaluation",
        phantoms="inference.phantoms.cxr",
        n_meaning="held-out studies",
    )
    openapi_tag = "cxr"
    openapi_description = (
        "Chest X-ray DICOM analysis (seed 001): 11 findings, heatmap, PNGs, predictions JSON "
        "and a PDF report; JWT in Authorization."
    )
    settings_defaults = {
        # ':'-separated folders the API may read DICOM files from and write outputs to.
        "CXR_INPUT_ROOTS": str(_VAR / "input"),
        "CXR_OUTPUT_ROOTS": str(_VAR / "output"),
        # The largest DICOM file read (bytes) and the most pixels decoded.
        "CXR_MAX_DICOM_BYTES": 100 * 1024 * 1024,
        "CXR_MAX_PIXELS": 50_000_000,
        # The report's header.
        "CXR_INSTITUTION": "Reference deployment (phantom-trained models, not for diagnosis)",
        # Per-finding probability at or above which a finding is present (JSON object):
        # chosen on 600 validation phantoms disjoint from training and from the published
        # evaluation (Youden's J; docs/models.md), and stored in the manifest's notes too.
        "CXR_THRESHOLDS": {
            "Tuberculosis": 0.1719,
            "Cardiomegaly": 0.8776,
            "Pleural Thickening": 0.5179,
            "Pleural Effusion": 0.1615,
            "Pneumothorax": 0.9494,
            "Consolidation": 0.7713,
            "Atelectasis": 0.6335,
            "Nodule Mass": 0.3722,
            "Fibrosis": 0.2437,
            "Infiltration": 0.1689,
            "Calcification": 0.7695,
        },
    }
