"""``python manage.py make_phantom leukemia --class Pre --seed 3 --out cell.png``.

Draws one phantom with the project's generator, writes it, and prints its ground truth as
JSON: the same images the reference models were trained on, for manual tests.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.management.commands._products import add_product_argument, reference_models


class Command(BaseCommand):
    help = "Draw one phantom image with known ground truth."

    def add_arguments(self, parser: CommandParser) -> None:
        add_product_argument(parser)
        parser.add_argument("--class", dest="cell_class", help="leukemia: Benign/Early/Pre/Pro.")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--size", type=int, default=128, help="Image side in pixels.")
        parser.add_argument("--out", type=Path, required=True, help="PNG or JPEG file to write.")

    def handle(
        self, product: str, cell_class: str | None, seed: int, size: int, out: Path, **options
    ) -> None:
        phantoms = reference_models(product).phantoms()
        if cell_class is None:
            raise CommandError(f"--class is required: one of {', '.join(phantoms.CLASSES)}")
        if cell_class not in phantoms.CLASSES:
            raise CommandError(
                f"Unknown class {cell_class!r}: one of {', '.join(phantoms.CLASSES)}"
            )
        phantom = phantoms.draw_cell(cell_class, seed=seed, size=size)
        try:
            phantom.image.save(out)
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot write {out}: {exc}") from exc
        self.stdout.write(json.dumps({"file": str(out), **phantom.truth}))
