"""Fetching weight files from a model hub, for deployments that have network access.

Only ``python manage.py fetch_models`` calls this; workers load from the model store alone
and the test suite never reaches a hub.  A downloaded file is checked against the manifest's
SHA-256 like any other, and removed if it does not match.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from inference.runtime.manifest import HUB_SOURCE, read_manifest, verify_file

Downloader = Callable[..., str]


def _huggingface_download(**kwargs: object) -> str:
    from huggingface_hub import hf_hub_download  # imported only where network is used

    return hf_hub_download(**kwargs)


def fetch_product(
    store: Path,
    product: str,
    repository: str | None = None,
    downloader: Downloader = _huggingface_download,
) -> list[str]:
    """Download the product's hub-sourced files that are missing or stale; returns their roles."""
    manifest = read_manifest(store, product)
    fetched = []
    for role, model_file in manifest.files.items():
        if model_file.source != HUB_SOURCE or verify_file(manifest, role) is None:
            continue
        repo_id = repository or model_file.repository or manifest.repository
        if not repo_id:
            raise ValueError(f"{role}: no repository to fetch {model_file.filename} from")
        downloader(
            repo_id=repo_id,
            filename=model_file.filename,
            revision=model_file.revision,
            local_dir=str(manifest.directory),
        )
        problem = verify_file(manifest, role)
        if problem:
            manifest.path_of(role).unlink(missing_ok=True)
            raise ValueError(f"downloaded file refused: {problem}")
        fetched.append(role)
    return fetched
