"""``python manage.py train_reference_models PRODUCT [--seed N] [--pop]``.

Trains the product's reference models on its phantoms (deterministic for a seed), writes the
weight files into the model store and a manifest with their SHA-256 sums.  Minutes on a
laptop CPU; never run by the test suite.

A product's training module may name further targets trained on their own
(``TARGETS = {"pop": "<module>"}``, each module with ``train_reference_models(out_dir, seed,
log)`` and ``WEIGHT_FILES``): ``--pop`` trains the VHS picture-of-picture network only.
Either way the manifest keeps the entries (checksums and notes) of the files this run did
not train.
"""

import json
from importlib import import_module
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.management.commands._products import add_product_argument, reference_models
from inference.runtime.manifest import MANIFEST_NAME, ManifestError, read_manifest, write_manifest
from inference.runtime.product import DISCLAIMER


class Command(BaseCommand):
    help = "Train a product's reference models on phantoms and write them to the model store."

    def add_arguments(self, parser: CommandParser) -> None:
        add_product_argument(parser)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--store", type=Path, default=None, help="Model store (default: MODEL_STORE)."
        )
        parser.add_argument(
            "--pop",
            action="store_true",
            help="vhs: train only the picture-of-picture network (its own target).",
        )

    def handle(
        self, product: str, seed: int, store: Path | None, pop: bool, **options: object
    ) -> None:
        _, reference = reference_models(product)
        store = store or settings.MODEL_STORE
        out_dir = store / product
        out_dir.mkdir(parents=True, exist_ok=True)
        training = reference.training_module()
        notes_key = "training"
        if pop:
            targets = getattr(training, "TARGETS", {})
            if "pop" not in targets:
                raise CommandError(f"{product} has no picture-of-picture target")
            training = import_module(targets["pop"])
            notes_key = "pop_training"
        try:
            previous = read_manifest(store, product)
        except ManifestError:
            previous = None
        summary = training.train_reference_models(out_dir, seed=seed, log=self.stdout.write)
        roles = dict(training.WEIGHT_FILES)
        notes = dict(previous.notes) if previous else {}
        notes.update({"disclaimer": DISCLAIMER, notes_key: summary})
        if not pop:
            notes["seed"] = seed
        write_manifest(store, product, reference.model_version, roles, notes=notes)
        if previous is not None:
            _keep_untrained(out_dir / MANIFEST_NAME, previous.to_json()["files"], roles)
        manifest = read_manifest(store, product)
        self.stdout.write(f"Wrote {len(roles)} weight files and manifest to {out_dir}")
        self.stdout.write(f"The manifest lists {len(manifest.files)} files.")


def _keep_untrained(path: Path, previous: dict, trained: dict[str, str]) -> None:
    """Put back, unchanged, the previous entries of roles this run did not train."""
    document = json.loads(path.read_text())
    kept = {role: entry for role, entry in previous.items() if role not in trained}
    document["files"] = {**kept, **document["files"]}
    path.write_text(json.dumps(document, indent=2) + "\n")
