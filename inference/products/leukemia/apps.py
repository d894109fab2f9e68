"""The leukemia blood-cell classifier's declaration (seed 000), mounted at ``/leukemia/``."""

from billing.rules import ValueRule
from inference.runtime.product import ModelGroup, ProductConfig, ReferenceModels


class LeukemiaConfig(ProductConfig):
    name = "inference.products.leukemia"
    label = "leukemia"
    verbose_name = "Leukemia blood-cell classifier"

    product = "leukemia"
    url_prefix = "leukemia/"
    model_groups = (
        ModelGroup(
            "classifier",
            "inference.products.leukemia.predictor.LeukemiaPredictor",
            "CNN feature extractor, feature scaler and classifier (the seed's three files)",
        ),
    )
    # The API is public; a call made with an API key is recorded, at the tier's price for
    # leukemia (none configured: free).  Every classification is a call of value.
    value_rule = ValueRule(
        valued_codes=None,
        billed_reason="classified",
        free_reason="not_classified",
        meter_event="leukemia_usage_cents",
        price_required=False,
    )
    reference_models = ReferenceModels(
        model_version="leukemia-ref-phantom-1.0",
        training="inference.products.leukemia.training",
        evaluation="inference.products.leukemia.evaluation",
        phantoms="inference.phantoms.leukemia",
    )
    envelope = "inference.products.leukemia.envelope.ENVELOPE"
    openapi_tag = "leukemia"
    openapi_description = "Leukemia blood-cell classification (seed 000): public, throttled per IP."
    settings_defaults = {
        # Per client IP without a key; a valid x-api-key is counted at the keyed rate.
        "LEUKEMIA_ANON_RATE": "60/min",
        "LEUKEMIA_KEY_RATE": "6000/min",
        # Hub repository for `manage.py fetch_models leukemia` on deployments with network.
        "HF_REPO_LEUKEMIA": "camlas/leukemia-HybridCN-NAS",
    }
