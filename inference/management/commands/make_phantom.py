"""Draw one phantom with known ground truth, write it, print the truth as JSON.

    python manage.py make_phantom leukemia --class Pre --seed 3 --out cell.png
    python manage.py make_phantom vhs --vhs 11.2 --seed 4 --out dog.png
    python manage.py make_phantom vhs --seed 4 --uncropped --atrial-infiltrate --out la.png
    python manage.py make_phantom cxr --findings Tuberculosis,Consolidation --seed 5 --out s.dcm
    python manage.py make_phantom pop --seed 7 --tilt 30 --glare 0.6 --moire --out photo.jpg
    python manage.py make_phantom pop --seed 7 --family heldout --out-of-view --out photo.jpg

The same generators the reference models were trained on, for manual tests.
"""

import argparse
import json
from importlib import import_module
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.management.commands._products import reference_models
from inference.runtime.product import products


def _draw_leukemia(phantoms: Any, options: dict[str, Any]) -> Any:
    cell_class = options["cell_class"]
    if cell_class is None:
        raise CommandError(f"--class is required: one of {', '.join(phantoms.CLASSES)}")
    if cell_class not in phantoms.CLASSES:
        raise CommandError(f"Unknown class {cell_class!r}: one of {', '.join(phantoms.CLASSES)}")
    return phantoms.draw_cell(cell_class, seed=options["seed"], size=options["size"] or 128)


def _draw_vhs(phantoms: Any, options: dict[str, Any]) -> Any:
    for name, (low, high) in {"vhs": (8.0, 13.5), "vlas": (1.2, 3.2)}.items():
        value = options[name]
        if value is not None and not low <= value <= high:
            raise CommandError(f"--{name} must lie between {low} and {high}")
    size = (options["size"], options["size"]) if options["size"] else None
    return phantoms.draw_radiograph(
        seed=options["seed"],
        vhs=options["vhs"],
        vlas=options["vlas"],
        size=size,
        crop=not options["uncropped"],
        atrial_infiltrate=options["atrial_infiltrate"],
    )


class _Study:
    """A chest X-ray phantom as the command writes it: a DICOM file, not a picture."""

    def __init__(self, phantoms: Any, phantom: Any) -> None:
        self.phantoms, self.phantom, self.truth = phantoms, phantom, phantom.truth

    def save(self, out: Path) -> None:
        self.phantoms.save_dicom(self.phantom, out)


def _draw_cxr(phantoms: Any, options: dict[str, Any]) -> Any:
    findings = None
    if options["findings"] is not None:
        findings = [name.strip() for name in options["findings"].split(",") if name.strip()]
        unknown = [name for name in findings if name not in phantoms.FINDINGS]
        if unknown:
            raise CommandError(
                f"Unknown finding(s) {', '.join(unknown)}: one of {', '.join(phantoms.FINDINGS)}"
            )
    study = phantoms.draw_study(options["seed"], findings, size=options["size"])
    return _Study(phantoms, study)


def _draw_pop(phantoms: Any, options: dict[str, Any]) -> Any:
    """A phone photo of a screen showing a VHS radiograph (``inference.phantoms.pop``)."""
    if options["tilt"] is not None and not 0 <= options["tilt"] <= 70:
        raise CommandError("--tilt must lie between 0 and 70 degrees")
    try:
        return phantoms.draw_pop(
            options["seed"],
            family=options["family"],
            tilt=options["tilt"],
            glare=options["glare"],
            moire=options["moire"],
            blur=options["blur"],
            out_of_view=options["out_of_view"],
            vhs=options["vhs"],
            vlas=options["vlas"],
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


DRAWERS = {"leukemia": _draw_leukemia, "vhs": _draw_vhs, "cxr": _draw_cxr, "pop": _draw_pop}
#: Phantom kinds that are not products of their own: (owning product, phantom module).
EXTRA_PHANTOMS = {"pop": ("vhs", "inference.phantoms.pop")}


class Command(BaseCommand):
    help = "Draw one phantom image with known ground truth."

    def add_arguments(self, parser: CommandParser) -> None:
        known = ", ".join(config.product for config in products() if config.reference_models)
        parser.add_argument(
            "product", help=f"One of: {known}, or pop (a phone photo of a VHS screen)."
        )
        parser.add_argument("--class", dest="cell_class", help="leukemia: Benign/Early/Pre/Pro.")
        parser.add_argument("--vhs", type=float, help="vhs: the heart score to draw (8.0-13.5).")
        parser.add_argument("--vlas", type=float, help="vhs: the VLAS to draw (1.2-3.2).")
        parser.add_argument(
            "--uncropped", action="store_true", help="vhs: keep every landmark in the frame."
        )
        parser.add_argument(
            "--atrial-infiltrate",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="vhs: hide (or never hide) the left atrium, so VLAS is not measurable.",
        )
        parser.add_argument(
            "--findings",
            help="cxr: comma-separated findings to draw (none: a normal study); unset: by chance.",
        )
        parser.add_argument(
            "--family",
            choices=("train", "heldout"),
            default="train",
            help="pop: the scene family (heldout: screens, rooms, light training never sees).",
        )
        parser.add_argument("--tilt", type=float, help="pop: the screen's tilt in degrees.")
        parser.add_argument("--glare", type=float, help="pop: glare strength (0 none, 1 strong).")
        parser.add_argument(
            "--moire", action=argparse.BooleanOptionalAction, default=None, help="pop: moire."
        )
        parser.add_argument("--blur", type=float, help="pop: Gaussian blur sigma, photo pixels.")
        parser.add_argument(
            "--out-of-view",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="pop: push part of the screen out of the photo.",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--size", type=int, default=None, help="Image side in pixels.")
        parser.add_argument(
            "--out", type=Path, required=True, help="PNG or JPEG file to write (cxr: a .dcm)."
        )

    def handle(self, product: str, out: Path, **options: Any) -> None:
        if product in EXTRA_PHANTOMS:
            owner, module = EXTRA_PHANTOMS[product]
            reference_models(owner)
            phantoms = import_module(module)
        else:
            phantoms = reference_models(product)[1].phantom_module()
        phantom = DRAWERS[product](phantoms, options)
        try:
            (phantom if isinstance(phantom, _Study) else phantom.image).save(out)
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot write {out}: {exc}") from exc
        self.stdout.write(json.dumps({"file": str(out), **phantom.truth}))
