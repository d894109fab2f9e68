"""``python manage.py train_reference_models PRODUCT [--seed N]``.

Trains the product's reference models on its phantoms (deterministic for a seed), writes the
weight files into the model store and a manifest with their SHA-256 sums.  Minutes on a
laptop CPU; never run by the test suite.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from inference.management.commands._products import add_product_argument, reference_models
from inference.runtime.manifest import write_manifest
from inference.runtime.product import DISCLAIMER


class Command(BaseCommand):
    help = "Train a product's reference models on phantoms and write them to the model store."

    def add_arguments(self, parser: CommandParser) -> None:
        add_product_argument(parser)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--store", type=Path, default=None, help="Model store (default: MODEL_STORE)."
        )

    def handle(self, product: str, seed: int, store: Path | None, **options: object) -> None:
        _, reference = reference_models(product)
        store = store or settings.MODEL_STORE
        out_dir = store / product
        out_dir.mkdir(parents=True, exist_ok=True)
        training = reference.training_module()
        summary = training.train_reference_models(out_dir, seed=seed, log=self.stdout.write)
        manifest = write_manifest(
            store,
            product,
            reference.model_version,
            dict(training.WEIGHT_FILES),
            notes={"disclaimer": DISCLAIMER, "seed": seed, "training": summary},
        )
        self.stdout.write(f"Wrote {len(manifest.files)} weight files and manifest to {out_dir}")
