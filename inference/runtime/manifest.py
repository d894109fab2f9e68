"""Model store manifests: which files a product needs, their checksums, version and source.

Layout: ``MODEL_STORE/<product>/manifest.json`` next to the weight files.  A manifest is the
contract between whoever trained or downloaded the weights and the worker that loads them:
a file whose SHA-256 differs from the manifest is never loaded.  This module needs no torch,
so the web tier can read manifests too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
LOCAL_SOURCE = "local"
HUB_SOURCE = "huggingface_hub"
FORMATS = ("state_dict", "torchscript", "pickled_module")


class ManifestError(Exception):
    """The manifest is missing or malformed."""


@dataclass(frozen=True)
class ModelFile:
    role: str
    filename: str
    sha256: str
    format: str = "state_dict"
    source: str = LOCAL_SOURCE
    repository: str | None = None
    revision: str | None = None


@dataclass(frozen=True)
class Manifest:
    product: str
    model_version: str
    files: dict[str, ModelFile]
    directory: Path
    repository: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def path_of(self, role: str) -> Path:
        return self.directory / self.files[role].filename

    def describe_files(self, loaded: bool) -> dict[str, dict[str, Any]]:
        """Each file as health documents show it; ``local_path`` is relative to the store's
        parent (``models/<product>/<file>.pt``), so no absolute server path is published."""
        described = {}
        for role, model_file in self.files.items():
            path = self.path_of(role)
            described[role] = {
                "filename": model_file.filename,
                "local_path": f"{path.parent.parent.name}/{path.parent.name}/{path.name}",
                "local_exists": path.is_file(),
                "loaded": loaded,
                "source": model_file.source,
                "repository": model_file.repository or self.repository,
            }
        return described

    def to_json(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "model_version": self.model_version,
            "repository": self.repository,
            "files": {
                role: {k: v for k, v in asdict(f).items() if k != "role"}
                for role, f in self.files.items()
            },
            **({"notes": self.notes} if self.notes else {}),
        }


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def product_dir(store: Path, product: str) -> Path:
    return Path(store) / product


def read_manifest(store: Path, product: str) -> Manifest:
    directory = product_dir(store, product)
    path = directory / MANIFEST_NAME
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ManifestError(f"no manifest at {path}") from exc
    except (OSError, ValueError) as exc:
        raise ManifestError(f"unreadable manifest {path}: {exc}") from exc
    try:
        files = {
            role: ModelFile(role=role, **{k: v for k, v in entry.items() if k != "role"})
            for role, entry in raw["files"].items()
        }
        manifest = Manifest(
            product=raw["product"],
            model_version=raw["model_version"],
            files=files,
            directory=directory,
            repository=raw.get("repository"),
            notes=raw.get("notes", {}),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ManifestError(f"malformed manifest {path}: {exc!r}") from exc
    for model_file in files.values():
        if model_file.format not in FORMATS:
            raise ManifestError(f"{model_file.role}: unknown format {model_file.format!r}")
        if Path(model_file.filename).name != model_file.filename:
            raise ManifestError(f"{model_file.role}: filename must not contain a path")
    return manifest


def write_manifest(
    store: Path,
    product: str,
    model_version: str,
    roles: dict[str, str],
    formats: dict[str, str] | None = None,
    notes: dict[str, Any] | None = None,
) -> Manifest:
    """Write a manifest for weight files already in the product's folder (``role -> filename``)."""
    directory = product_dir(store, product)
    files = {
        role: ModelFile(
            role=role,
            filename=filename,
            sha256=sha256_of(directory / filename),
            format=(formats or {}).get(role, "state_dict"),
        )
        for role, filename in roles.items()
    }
    manifest = Manifest(product, model_version, files, directory, notes=notes or {})
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    return manifest


def verify_file(manifest: Manifest, role: str) -> str | None:
    """``None`` when the file exists and matches its checksum, else why it does not."""
    path = manifest.path_of(role)
    if not path.is_file():
        return f"{role}: file {path} is missing"
    actual = sha256_of(path)
    if actual != manifest.files[role].sha256:
        return (
            f"{role}: checksum mismatch for {path.name} "
            f"(manifest {manifest.files[role].sha256[:12]}…, file {actual[:12]}…)"
        )
    return None
