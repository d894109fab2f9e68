"""The toy product's declaration: the only place it is described to the platform."""

from billing.rules import ValueRule
from inference.runtime.product import ModelGroup, ProductConfig


class ToyConfig(ProductConfig):
    name = "tests.toy_product"
    label = "toy_product"
    verbose_name = "Toy product (tests only)"

    product = "toy"
    url_prefix = "toy/v1/"
    model_groups = (ModelGroup("linear", "tests.tiny_predictor.TinyPredictor", "y = Wx + b"),)
    # A result is worth a charge when the model's output sums to more than zero.
    value_rule = ValueRule(
        valued_codes=frozenset({1}),
        billed_reason="positive",
        free_reason="not_positive",
        meter_event="toy_usage_cents",
        price_required=False,
    )
    envelope = "tests.toy_product.views.ENVELOPE"
    openapi_tag = "toy"
    openapi_description = "A product that exists only in the test suite."
