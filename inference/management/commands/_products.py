"""Argument handling shared by the reference-model commands."""

from django.core.management.base import CommandError, CommandParser

from inference.reference_models import REFERENCE_MODELS, ReferenceModels


def add_product_argument(parser: CommandParser) -> None:
    parser.add_argument("product", help=f"One of: {', '.join(REFERENCE_MODELS)}.")


def reference_models(product: str) -> ReferenceModels:
    if product not in REFERENCE_MODELS:
        raise CommandError(
            f"No reference models for {product!r}. Known: {', '.join(REFERENCE_MODELS)}."
        )
    return REFERENCE_MODELS[product]
