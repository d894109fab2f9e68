"""The veterinary cardiac VHS/VLAS product's declaration (seed 002), at ``/vhs/v3/``."""

from billing.rules import ValueRule
from inference.runtime.product import ModelGroup, ProductConfig, ReferenceModels


class VhsConfig(ProductConfig):
    name = "inference.products.vhs"
    label = "vhs"
    verbose_name = "VHS/VLAS cardiac measurement"
    default_auto_field = "django.db.models.BigAutoField"

    product = "vhs"
    url_prefix = "vhs/v3/"
    model_groups = (
        ModelGroup(
            "radiograph",
            "inference.products.vhs.predictor.RadiographPredictor",
            "radiograph / not-a-radiograph classifier",
        ),
        ModelGroup(
            "landmarks",
            "inference.products.vhs.predictor.LandmarkEnsemblePredictor",
            "5-fold ensemble of landmark networks (spread = disagreement)",
        ),
        ModelGroup(
            "pop",
            "inference.products.vhs.pop.predictor.PopPredictor",
            "picture-of-picture network: photo of a screen?, screen in view?, coarse corners",
            required=False,
        ),
        ModelGroup(
            "pop_corners",
            "inference.products.vhs.pop.predictor.CornerPredictor",
            "picture-of-picture corner network: each corner on a crop of the full photo",
            required=False,
        ),
    )
    pipeline = "inference.products.vhs.pipeline.measure"
    # Pay-for-value (seed 002): result codes 1-4 bill, 0 and 5-7 never do.
    value_rule = ValueRule(
        valued_codes=frozenset({1, 2, 3, 4}),
        billed_reason="valid_vhs",
        free_reason="no_valid_vhs",
        meter_event="vhs_usage_cents",
        price_required=True,
    )
    reference_models = ReferenceModels(
        model_version="vhs-ref-phantom-3.0",
        training="inference.products.vhs.training",
        evaluation="inference.products.vhs.evaluation",
        phantoms="inference.phantoms.vhs",
        n_meaning="radiographs and as many non-radiographs",
    )
    envelope = "inference.products.vhs.errors.ENVELOPE"
    settings_defaults = {
        # A streamed prediction sends a ": keep-alive" comment after this long without an
        # event, so proxies keep an idle connection open while an image computes.
        "VHS_STREAM_KEEPALIVE_SECONDS": 15.0,
        # PoP capture sessions (seed 002's session_config; docs/vhs.md, PoP capture sessions).
        "VHS_POP_SESSION_MAX_FRAMES": 20,
        "VHS_POP_SESSION_MAX_CONSECUTIVE_FAILURES": 5,
        "VHS_POP_SESSION_TTL_SECONDS": 300,
        "VHS_POP_SESSION_GOOD_FRAMES": 3,
    }
    openapi_tag = "vhs"
    openapi_description = "Veterinary cardiac VHS/VLAS measurement, API v3 (seed 002): x-api-key."
