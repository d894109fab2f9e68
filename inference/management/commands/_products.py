"""Argument handling shared by the reference-model commands: the declared products."""

from django.core.management.base import CommandError, CommandParser

from inference.runtime.product import ProductConfig, ReferenceModels, products


def _with_reference_models() -> dict[str, ProductConfig]:
    return {config.product: config for config in products() if config.reference_models}


def add_product_argument(parser: CommandParser) -> None:
    parser.add_argument("product", help=f"One of: {', '.join(_with_reference_models())}.")


def reference_models(product: str) -> tuple[ProductConfig, ReferenceModels]:
    """The product's declaration and its reference models, or a CommandError."""
    known = _with_reference_models()
    if product not in known:
        raise CommandError(f"No reference models for {product!r}. Known: {', '.join(known)}.")
    declaration = known[product]
    assert declaration.reference_models is not None
    return declaration, declaration.reference_models
