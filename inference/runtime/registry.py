"""The products this process serves, and what each reports about its models.

Products are the declared ones (``inference.runtime.product.products()``, from the Django app
registry).  A product's runtime is built on first use, so a web process that only needs the
names (to ask distributed workers about them) never imports torch.  Workers call
``load_all()`` when they start; ``statuses()`` is what ``/health/`` shows per worker.
"""

from __future__ import annotations

from typing import Any, Protocol

from inference.runtime.product import product, products


class ServedProduct(Protocol):
    """What the registry needs from a product runtime."""

    name: str

    def load(self) -> bool:
        """Load once (idempotent); True when the product can serve."""
        ...

    def status(self) -> dict[str, Any]:
        """``{"loaded": bool, "device": str | None, "reason": str | None, ...}``."""
        ...


_registered: dict[str, ServedProduct] = {}  # added explicitly (tests, embedding code)
_built: dict[str, ServedProduct] = {}  # built on first use from the declarations


def product_names() -> list[str]:
    return sorted({config.product for config in products()} | set(_registered))


def runtime(name: str) -> Any:
    """The runtime of ``name``, built on first use (this imports torch)."""
    if name in _registered:
        return _registered[name]
    declaration = product(name)  # KeyError for an unknown product
    built = _built.get(name)
    if built is None or getattr(built, "declaration", declaration) is not declaration:
        from inference.runtime.serving import ProductRuntime

        built = _built[name] = ProductRuntime(declaration)
    return built


def register(served: ServedProduct) -> ServedProduct:
    """Serve ``served`` under its name, in place of any declared one (tests use this)."""
    _registered[served.name] = served
    return served


def unregister(name: str) -> None:
    _registered.pop(name, None)


def load_all() -> dict[str, bool]:
    """Load every product; returns which loaded. Never raises (failures are in the status)."""
    return {name: runtime(name).load() for name in product_names()}


def statuses() -> dict[str, dict[str, Any]]:
    """Every product's model status, keyed by product name."""
    return {name: runtime(name).status() for name in product_names()}
