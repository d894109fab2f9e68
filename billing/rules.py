"""What a product's call is worth: each product declares its rule, the engine applies it.

The engine (``billing.engine``) owns what is common to every product: tiers and prices, the
24 h recheck grace, the per-customer lock, monthly usage and the Stripe outbox.  Which
results carry value, and what the response calls a billed or a free call, belong to the
product, which states them in its declaration (``ProductConfig.value_rule``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ValueRule:
    #: Result codes that carry value; ``None``: every call that produced a result does.
    valued_codes: frozenset[int] | None
    #: ``reason`` of a billed call, and of a call that carried no value.
    billed_reason: str
    free_reason: str
    #: Stripe billing meter this product's billed amounts are reported to.
    meter_event: str
    #: True: a call type with no configured price is a configuration error (the call goes
    #: out free with ``billing_error`` and staff see it); False: it is priced at zero.
    price_required: bool = True

    def carries_value(self, result_code: int | None) -> bool:
        if self.valued_codes is None:
            return True
        return result_code in self.valued_codes


def rule_for(product: str) -> ValueRule:
    """The declared rule of ``product`` (from the Django app registry)."""
    from inference.runtime.product import product as declaration

    return declaration(product).value_rule
