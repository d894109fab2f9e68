"""The products a worker serves, and what each reports about its models.

A product registers once (at import of its package); the worker loads every registered
product when it starts and the platform health check reads ``statuses()``, in-process when
Celery runs eagerly, from each worker through a control command when it is distributed.
"""

from __future__ import annotations

from typing import Any, Protocol


class ServedProduct(Protocol):
    """What the registry needs from a product: a name and a JSON-safe status."""

    name: str

    def status(self) -> dict[str, Any]:
        """``{"loaded": bool, "device": str | None, "reason": str | None, ...}``."""
        ...


_products: dict[str, ServedProduct] = {}


def register(product: ServedProduct) -> ServedProduct:
    """Add a product; registering the same name twice replaces the first (tests rely on it)."""
    _products[product.name] = product
    return product


def unregister(name: str) -> None:
    _products.pop(name, None)


def products() -> dict[str, ServedProduct]:
    return dict(_products)


def statuses() -> dict[str, dict[str, Any]]:
    """Every registered product's model status, keyed by product name."""
    return {name: product.status() for name, product in sorted(_products.items())}
