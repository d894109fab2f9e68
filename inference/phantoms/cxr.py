"""PA chest radiograph phantoms with eleven findings, known lesion regions, written as DICOM.

Real weights for the chest X-ray product live on a hub this platform cannot reach, so its
reference network is trained on these studies.  Why they are built the way they are:

- The anatomy (``cxr_anatomy``) is a normal adult chest seen PA, patient's right on the
  image's left: lungs with apices, costophrenic angles and domes (the right higher), the
  mediastinum with the aortic knob and a cardiac silhouette of chosen cardiothoracic ratio,
  trachea and main bronchi, vessels branching from the hila, posterior and anterior ribs,
  clavicles, spine, scapulae, humeral heads, arms, breasts, a gastric bubble.
- Each finding (``cxr_findings``, ``cxr_parenchyma``) is drawn where and how it appears on a
  film, at a random place within its zone and a random size and density within a plausible
  range, and the truth gives its region (a box and a coarse ``MASK_SIZE`` mask in image
  coordinates), so localisation can be scored against the lesion rather than the prior.
- 0..3 findings per study (``FINDING_COUNTS``: 38 % normal); every finding, the anatomy, the
  framing, the exposure, the noise and the encoding draw from their own generators seeded
  by the seed, so a study drawn with or without one finding differs only where it shows.
- Nuisance independent of the findings: image size and aspect, scale, rotation, translation,
  exposure, gamma, edge enhancement, blur, noise, heel effect, collimation and a marker.
- Stored as DICOM (``cxr_dicom``) in a pixel encoding chosen per seed, with patient and study
  tags; ``pixels`` is what the standard's display pipeline gives for the stored values.

    python -m inference.phantoms.cxr docs/images/cxr_phantoms.png   # the contact sheet
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydicom.dataset import FileDataset

from inference.phantoms import cxr_anatomy as anatomy
from inference.phantoms import cxr_dicom, cxr_findings, cxr_parenchyma
from inference.phantoms.cxr_findings import Drawn, LungGrid
from inference.phantoms.cxr_render import (
    Lesions,
    Scene,
    attenuation,
    expose,
    make_canvas,
    make_scene,
    sample_exposure,
)
from inference.products.cxr.labels import FINDINGS

__all__ = [
    "DATASET_STRIDE",
    "FINDINGS",
    "MASK_SIZE",
    "CxrPhantom",
    "contact_sheet",
    "draw_dataset",
    "draw_study",
    "mask_array",
    "sample_findings",
    "save_dicom",
]

SAMPLERS = {
    "Tuberculosis": cxr_findings.tuberculosis,
    "Cardiomegaly": cxr_findings.cardiomegaly,
    "Pleural Thickening": cxr_findings.pleural_thickening,
    "Pleural Effusion": cxr_findings.pleural_effusion,
    "Pneumothorax": cxr_findings.pneumothorax,
    "Consolidation": cxr_findings.consolidation,
    "Atelectasis": cxr_parenchyma.atelectasis,
    "Nodule Mass": cxr_parenchyma.nodule_mass,
    "Fibrosis": cxr_parenchyma.fibrosis,
    "Infiltration": cxr_parenchyma.infiltration,
    "Calcification": cxr_parenchyma.calcification,
}
# draw_dataset gives study i of dataset `seed` the phantom seed `seed * DATASET_STRIDE + i`.
DATASET_STRIDE = 1_000_000
FINDING_COUNTS = (0.38, 0.34, 0.18, 0.10)  # P(0), P(1), P(2), P(3) findings
SIZE_RANGE = (640, 1024)  # the longer side, pixels
MAX_ROTATION_DEG = 7.0
MASK_SIZE = 32


@dataclass(frozen=True)
class CxrPhantom:
    """One drawn study: the display image, its JSON-safe truth and its DICOM instance.

    ``pixels`` is float32 0..1, bright = dense, as a correct reader displays the file.  The
    dataset is encoded on first use (compression costs more than drawing a small study).
    """

    pixels: np.ndarray
    truth: dict[str, Any]
    stored: np.ndarray = field(repr=False)
    _voi: dict[str, Any] = field(repr=False)
    _spacing_mm: float = field(repr=False)

    @cached_property
    def dataset(self) -> FileDataset:
        """The pydicom FileDataset (file meta, preamble) ready for ``save_as``."""
        return cxr_dicom.build_dataset(
            self.stored,
            self.truth["encoding"],
            self._voi,
            self.truth["patient"],
            self._spacing_mm,
        )


def draw_study(
    seed: int, findings: Iterable[str] | None = None, *, size: int | tuple[int, int] | None = None
) -> CxrPhantom:
    """One PA chest study; the same arguments always give identical pixels and truth.

    ``findings`` None draws 0..3 findings from the population; given (names from
    ``FINDINGS``, any order, possibly empty), exactly those are drawn, each exactly as the
    same seed would draw it by chance.  ``size`` is the longer side (the aspect stays the
    seed's) or an exact ``(width, height)``; the anatomy, framing and findings do not change
    with it, so small sizes are cheap training images of the same study.
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    present = _chosen_findings(seed, findings)
    chest = anatomy.sample_chest(np.random.default_rng([seed, 2]))
    normal_rng = np.random.default_rng([seed, 2, 1])
    chest = anatomy.with_ctr(chest, float(normal_rng.uniform(*anatomy.CTR_NORMAL)))
    patient = cxr_dicom.sample_patient(np.random.default_rng([seed, 3]), seed)
    if patient["patient_sex"] == "F" and normal_rng.random() < 0.85:
        chest = _replace(chest, breasts=float(normal_rng.uniform(0.4, 1.2)))
    grid = LungGrid(chest)
    drawn: dict[str, Drawn] = {
        name: SAMPLERS[name](np.random.default_rng([seed, 100 + FINDINGS.index(name)]), chest, grid)
        for name in present
    }
    final = chest
    for item in drawn.values():
        if item.modify is not None:
            final = item.modify(final)
    view = _sample_view(np.random.default_rng([seed, 4]), chest, size)
    canvas = make_canvas(view["size"], view["center"], view["unit_px"], view["rotation_deg"])
    scene = make_scene(canvas, final)
    lesions = _lesions(scene, drawn)
    exposure = _fit_collimation(sample_exposure(np.random.default_rng([seed, 5])), canvas, final)
    values = attenuation(scene, lesions, np.random.default_rng([seed, 6]))
    signal = expose(values, exposure, canvas, np.random.default_rng([seed, 7]))
    encoding = cxr_dicom.sample_encoding(np.random.default_rng([seed, 8]))
    stored, voi = cxr_dicom.store(signal, encoding, _outside_thorax(scene, chest))
    pixels = cxr_dicom.display(stored, encoding, voi)
    spacing = final.unit_cm * 10.0 / canvas.unit_px
    truth = {
        "seed": seed,
        "findings": list(present),
        "labels": {name: int(name in present) for name in FINDINGS},
        "lesions": {
            name: {**_region(lesions.masks[name]), **drawn[name].summary} for name in present
        },
        "cardiothoracic_ratio": round(anatomy.cardiothoracic_ratio(final), 4),
        "anatomy": _anatomy_boxes(scene),
        "size": list(view["size"]),
        "pixel_spacing_mm": round(spacing, 4),
        "rotation_deg": round(view["rotation_deg"], 3),
        "exposure": exposure,
        "encoding": encoding,
        "patient": patient,
    }
    return CxrPhantom(pixels, truth, stored, voi, spacing)


def draw_dataset(
    n: int, dataset_seed: int, *, size: int | tuple[int, int] | None = None
) -> Iterator[CxrPhantom]:
    """``n`` studies; study ``i`` uses seed ``dataset_seed * DATASET_STRIDE + i``.

    Training and evaluation take their dataset seeds from ``inference.runtime.reproducible``
    (even and odd), so no held-out study is ever a training study.
    """
    if n > DATASET_STRIDE:
        raise ValueError(f"at most {DATASET_STRIDE} studies per dataset")
    for index in range(n):
        yield draw_study(dataset_seed * DATASET_STRIDE + index, size=size)


def save_dicom(phantom: CxrPhantom, path: str | Path) -> None:
    """Write the study as a DICOM Part 10 file (preamble, file meta, its transfer syntax)."""
    phantom.dataset.save_as(path, enforce_file_format=True)


def mask_array(rows: list[str]) -> np.ndarray:
    """A truth mask (rows of "0"/"1", top row first) as a bool ``[MASK_SIZE, MASK_SIZE]``."""
    return np.array([[c == "1" for c in row] for row in rows], dtype=bool)


# --- internals ------------------------------------------------------------------------------


def _replace(chest: anatomy.Chest, **changes: Any) -> anatomy.Chest:
    import dataclasses

    return dataclasses.replace(chest, **changes)


def _chosen_findings(seed: int, findings: Iterable[str] | None) -> list[str]:
    if findings is None:
        return sample_findings(seed)
    wanted = list(findings)
    unknown = [name for name in wanted if name not in FINDINGS]
    if unknown:
        raise ValueError(f"unknown findings {unknown}: expected names from {FINDINGS}")
    return [name for name in FINDINGS if name in wanted]


def sample_findings(seed: int) -> list[str]:
    """The findings ``draw_study(seed)`` draws by chance, without drawing it (cheap)."""
    rng = np.random.default_rng([seed, 1])
    count = int(rng.choice(len(FINDING_COUNTS), p=FINDING_COUNTS))
    picked = rng.choice(len(FINDINGS), size=count, replace=False)
    return [FINDINGS[i] for i in sorted(picked)]


def _sample_view(
    rng: np.random.Generator, chest: anatomy.Chest, size: int | tuple[int, int] | None
) -> dict[str, Any]:
    """Image size, scale, centre and rotation; drawn whatever ``size`` asks, so the framing
    of a seed is the same at every size."""
    long_side = int(rng.integers(SIZE_RANGE[0], SIZE_RANGE[1] + 1))
    aspect = rng.uniform(0.92, 1.25)  # height / width: portrait detectors mostly
    top, bottom = min(chest.apex_y), max(chest.base_y)
    across = rng.uniform(2.45, 3.0)  # units across the image (the cage is 2)
    down = rng.uniform(bottom - top + 0.75, bottom - top + 1.25)
    center = (float(rng.normal(0.0, 0.04)), float((top + bottom) / 2 + rng.normal(0.06, 0.05)))
    rotation = float(np.clip(rng.normal(0.0, 2.5), -MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    if isinstance(size, tuple):
        width, height = int(size[0]), int(size[1])
    else:
        long_side = long_side if size is None else int(size)
        width, height = (
            (round(long_side / aspect), long_side)
            if aspect >= 1
            else (long_side, round(long_side * aspect))
        )
    if min(width, height) < 64:
        raise ValueError(f"size must be at least 64 x 64 pixels, got {width} x {height}")
    unit_px = min(width / across, height / down)
    return {"size": (width, height), "center": center, "unit_px": unit_px, "rotation_deg": rotation}


def _fit_collimation(exposure: dict[str, Any], canvas: Any, chest: anatomy.Chest) -> dict[str, Any]:
    """Collimation never reaches the lungs: each band stops short of them."""
    points = np.vstack([canvas.to_pixels(anatomy.lung_outline(chest, s)) for s in (0, 1)])
    low = points.min(axis=0) / (canvas.width, canvas.height)
    high = points.max(axis=0) / (canvas.width, canvas.height)
    room = {"left": low[0], "top": low[1], "right": 1 - high[0], "bottom": 1 - high[1]}
    bands = {
        side: round(float(min(width, max(0.0, room[side] - 0.03))), 4)
        for side, width in exposure["collimation"].items()
    }
    return {**exposure, "collimation": bands}


def _outside_thorax(scene: Scene, chest: anatomy.Chest) -> np.ndarray:
    """Pixels beyond the (normal) lungs' bounding box: no finding ever reaches them."""
    points = np.vstack([anatomy.lung_outline(chest, side) for side in (0, 1)])
    (x0, y0), (x1, y1) = points.min(axis=0) - 0.05, points.max(axis=0) + 0.05
    return ~(scene.mask(np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])) > 0)


def _lesions(scene: Scene, drawn: dict[str, Drawn]) -> Lesions:
    """Every finding's layers, combined: air replaced by any (1 - product of the rest)."""
    keep_air, clear, dense = np.ones_like(scene.x), scene.zeros(), scene.zeros()
    masks = {}
    for name, item in drawn.items():
        layer = item.draw(scene)
        if layer.fill is not None:
            keep_air *= 1.0 - np.clip(layer.fill, 0.0, 1.0)
        if layer.clear is not None:
            clear = np.maximum(clear, layer.clear)
        if layer.dense is not None:
            dense += layer.dense
        masks[name] = layer.mask
    return Lesions(fill=1.0 - keep_air, clear=clear, dense=dense, masks=masks)


def _box(mask: np.ndarray) -> list[float]:
    rows, columns = np.nonzero(mask)
    height, width = mask.shape
    if len(rows) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [
        round(float(columns.min()) / width, 4),
        round(float(rows.min()) / height, 4),
        round(float(columns.max() + 1) / width, 4),
        round(float(rows.max() + 1) / height, 4),
    ]


def _region(mask: np.ndarray) -> dict[str, Any]:
    """A lesion's box, its connected parts' boxes and its coarse mask (normalised)."""
    cover = cv2.resize(
        mask.astype(np.float32), (MASK_SIZE, MASK_SIZE), interpolation=cv2.INTER_AREA
    )
    # A cell a tenth covered counts (a thin pleural line or a diaphragm band shows there); a
    # focus smaller than that still marks its cells.
    cells = cover >= min(0.1, 0.5 * float(cover.max())) if cover.max() > 0 else cover > 1
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    parts = sorted(range(1, count), key=lambda k: -stats[k, cv2.CC_STAT_AREA])
    floor = 2e-4 * mask.size
    boxes = [_box(labels == k) for k in parts if stats[k, cv2.CC_STAT_AREA] >= floor][:8]
    return {
        "box": _box(mask),
        "boxes": boxes or [_box(mask)],
        "area": round(float(mask.mean()), 5),
        "mask": ["".join("1" if c else "0" for c in row) for row in cells],
    }


def _anatomy_boxes(scene: Scene) -> dict[str, list[float]]:
    lungs = [scene.mask(anatomy.lung_outline(scene.chest, s)) > 127 for s in (0, 1)]
    heart = scene.mask(anatomy.heart_outline(scene.chest)) > 127
    return {
        "right_lung_box": _box(lungs[0]),
        "left_lung_box": _box(lungs[1]),
        "lungs_box": _box(lungs[0] | lungs[1]),
        "heart_box": _box(heart),
    }


def contact_sheet(path: str | Path, tile: int = 200, first_seed: int = 0) -> Path:
    """A 4x4 sheet: each finding once (forced, at its seed), two normals, three by chance.

    Each tile is labelled with its findings and its encoding, for looking at, not training.
    """
    plan: list[tuple[int, list[str] | None]] = [
        (first_seed + i, [n]) for i, n in enumerate(FINDINGS)
    ]
    plan += [(first_seed + 20, []), (first_seed + 21, [])]
    plan += [(first_seed + 30 + k, None) for k in range(3)]
    tiles = []
    for seed, wanted in plan:
        phantom = draw_study(seed, wanted, size=3 * tile)
        image = cv2.resize(phantom.pixels, (tile, round(tile * 1.15)), interpolation=cv2.INTER_AREA)
        canvas = np.zeros((image.shape[0] + 30, tile), np.uint8)
        # 64 grey levels (the noise dithers them): a quarter smaller in the repository.
        canvas[: image.shape[0]] = np.clip(image * 63 + 0.5, 0, 63).astype(np.uint8) * 4
        enc = phantom.truth["encoding"]
        lines = [", ".join(phantom.truth["findings"]) or "normal"]
        lines.append(
            f"{enc['bits_stored']}b {enc['photometric'][-1]} {enc['voi']} {enc['transfer_syntax']}"
        )
        for k, text in enumerate(lines):
            cv2.putText(
                canvas,
                text[:34],
                (3, image.shape[0] + 12 + 13 * k),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.36,
                255,
                1,
                cv2.LINE_AA,
            )
        tiles.append(canvas)
    rows = [np.hstack(tiles[r * 4 : r * 4 + 4]) for r in range(4)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(rows), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return path


if __name__ == "__main__":
    print(contact_sheet(sys.argv[1] if len(sys.argv) > 1 else "docs/images/cxr_phantoms.png"))
