"""``GET /v3/health`` (seed 002): what the workers report of the VHS model groups.

Every number comes from what a worker has loaded, group by group: ``models_loaded`` counts
the landmark ensemble's loaded members, ``pop_models_loaded`` the picture-of-picture groups'
(none are declared yet, so it is 0 and the PoP pipeline is reported disabled).
"""

from __future__ import annotations

from typing import Any

from inference.products.vhs.apps import VhsConfig
from inference.runtime.cluster import reachable_product_status

ENSEMBLE_GROUP = "landmarks"
#: The picture-of-picture groups (screen-photo detector, corner model), once declared.
POP_GROUPS = tuple(group.name for group in VhsConfig.model_groups if group.name.startswith("pop"))


def _loaded_files(group: dict[str, Any] | None) -> int:
    if not group or not group.get("loaded"):
        return 0
    return sum(1 for described in group.get("files", {}).values() if described.get("loaded"))


def outage_document() -> dict[str, Any]:
    """What ``/v3/health`` answers when Redis cannot be reached at all (not even to check the
    caller's key allowance): degraded, nothing loaded, still a 200, naming nothing."""
    return {
        "status": "degraded",
        "models_loaded": 0,
        "pop_models_loaded": 0,
        "pop_pipeline_enabled": False,
        "model_version": None,
    }


def health_document() -> dict[str, Any]:
    """Always answered with HTTP 200: ``status`` says healthy or degraded (the seed documents
    only the 200 document), the same whether models failed to load, no worker answers or the
    broker is unreachable, so a monitor reads one field."""
    status = reachable_product_status(VhsConfig.product) or {}
    groups = status.get("groups", {})
    pop_loaded = [bool(groups.get(name, {}).get("loaded")) for name in POP_GROUPS]
    return {
        "status": "healthy" if status.get("loaded") else "degraded",
        "models_loaded": _loaded_files(groups.get(ENSEMBLE_GROUP)),
        "pop_models_loaded": sum(_loaded_files(groups.get(name)) for name in POP_GROUPS),
        "pop_pipeline_enabled": bool(pop_loaded) and all(pop_loaded),
        "model_version": status.get("model_version"),
    }
