"""The leukemia API's ``GET /`` and ``GET /health`` documents (seed 000).

The models live on the workers, so their state comes from a worker's answer
(``inference.runtime.cluster``).  If no worker answers, the files are described from the
model store's manifest as this process sees it, all marked not loaded.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from inference.products.leukemia.envelope import API_VERSION, SERVICE_NAME, now_iso
from inference.products.leukemia.labels import CLASSES, CONFIDENCE_LEVELS, DESCRIPTIONS
from inference.runtime.cluster import reachable_product_status
from inference.runtime.manifest import ManifestError, read_manifest

PRODUCT = "leukemia"
# The seed's roles, in the seed's order.
ROLES = ("feature_extractor", "classifier", "scaler")


def _files_from_manifest() -> tuple[str | None, dict[str, Any]]:
    """(model version, files) as the local model store describes them, none loaded."""
    try:
        manifest = read_manifest(settings.MODEL_STORE, PRODUCT)
    except ManifestError:
        return None, {}
    return manifest.model_version, manifest.describe_files(loaded=False)


def health_document() -> dict[str, Any]:
    status = reachable_product_status(PRODUCT)
    if status and status.get("files"):
        model_version, files, device = status["model_version"], status["files"], status["device"]
    else:
        (model_version, files), device = _files_from_manifest(), None
    loaded = bool(status and status.get("loaded"))
    sources = {
        role: {
            "source": files[role]["source"],
            "repository": files[role]["repository"],
            "filename": files[role]["filename"],
            "local_path": files[role]["local_path"],
            "local_exists": files[role]["local_exists"],
            "loaded": bool(files[role]["loaded"]),
        }
        for role in ROLES
        if role in files
    }
    store = settings.MODEL_STORE / PRODUCT
    document: dict[str, Any] = {
        "status_code": 200 if loaded else 503,
        "status": "healthy" if loaded else "unhealthy",
        "service": SERVICE_NAME,
        "api_version": API_VERSION,
        "model_version": model_version,
        "models_loaded": loaded,
        "models_loaded_count": sum(source["loaded"] for source in sources.values()),
        "total_models_required": len(ROLES),
        "model_sources": sources,
        "repository_info": {
            "repository_id": next(
                (s["repository"] for s in sources.values() if s["repository"]), "local"
            ),
            "total_models": len(ROLES),
            "available_models": [role for role in ROLES if files.get(role, {}).get("local_exists")],
            "model_files": {role: files[role]["filename"] for role in ROLES if role in files},
            "models_directory": f"{store.parent.name}/{store.name}",
            "models_directory_exists": store.is_dir(),
        },
        "device": device,
        "timestamp": now_iso(),
    }
    if not loaded:
        document["reason"] = (status or {}).get("reason") or "no worker with the models answered"
    return document


def api_information() -> dict[str, Any]:
    status = reachable_product_status(PRODUCT) or {}
    return {
        "service": SERVICE_NAME,
        "api_version": API_VERSION,
        "model_version": status.get("model_version"),
        "status": "running" if status.get("loaded") else "models_not_loaded",
        "description": (
            "Classifies a blood-smear cell image into Benign, Early, Pre or Pro. Reference "
            "models trained on synthetic phantoms: not for clinical use."
        ),
        "classes": {name: DESCRIPTIONS[name] for name in CLASSES},
        "confidence_levels": CONFIDENCE_LEVELS,
        "endpoints": {
            "GET /": "API information and status",
            "POST /predict": "Predict from a base64-encoded image ({'image_base64': ...})",
            "POST /predict/upload": "Predict from an uploaded file (multipart field 'file')",
            "GET /health": "Detailed health check and model status",
        },
        "limits": {
            "formats": ["JPEG", "PNG"],
            "min_dimensions": "10x10",
            "max_image_bytes": settings.IMAGE_MAX_BYTES,
            "rate_limit_anonymous": settings.LEUKEMIA_ANON_RATE,
        },
        "documentation": "/api/docs/",
        "authentication": "none required; a valid x-api-key lifts the anonymous rate limit",
        "timestamp": now_iso(),
    }
