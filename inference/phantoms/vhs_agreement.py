"""The VHS/VLAS agreement set: straight films whose truths are spread evenly (issue 21).

The held-out set (``draw_dataset``) follows the population the models were trained on: two
thirds normal hearts (VHS 9.7 +/- 0.5) and a VLAS that follows the heart, so its VLAS mostly
spans about 1.4-3.0 and a correlation over it says little.  Agreement (Pearson's r,
Bland-Altman limits, a left-atrial enlargement cut-off) needs truths spread over the whole
clinical range, so this second generator asks ``draw_radiograph`` for them:

- VHS uniform in ``AGREEMENT_VHS`` (8.5-12.5: normal to markedly enlarged) and VLAS uniform
  in ``AGREEMENT_VLAS``, independently.  That is the generator's whole ``VLAS_RANGE``
  (1.2-3.2); 3.2 is the generator's upper bound, short of the 3.5 some enlarged atria reach,
  and ``VLAS_RANGE`` is not widened for this set.
- Straight, uncropped films (``crop=False``: every landmark in the frame), the atrium never
  hidden (``atrial_infiltrate=False``): every phantom is measurable, so the figures measure
  agreement and not visibility (the held-out set measures that).
- Seeds: ``agreement_phantom_seeds`` (the last tenth of the evaluation block; no training
  draws it, and no held-out set reaches it); the scores from their own stream
  (``[phantom seed, SCORE_STREAM]``), so phantom ``i`` is the same dog at any ``n``.

Nothing about drawing changes: this only chooses the seeds and scores it asks for.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from inference.phantoms.vhs import DATASET_STRIDE, VLAS_RANGE, RadiographPhantom, draw_radiograph
from inference.runtime.reproducible import agreement_phantom_seeds

AGREEMENT_VHS = (8.5, 12.5)
AGREEMENT_VLAS = VLAS_RANGE
#: The score stream's key; the drawing's own streams are 2, 3, 5 and 17, training's 7, 19, 23.
SCORE_STREAM = 41


def agreement_scores(phantom_seed: int) -> tuple[float, float]:
    """The VHS and VLAS asked for phantom ``phantom_seed``, to 0.1 as the truth measures."""
    rng = np.random.default_rng([phantom_seed, SCORE_STREAM])
    vhs = round(float(rng.uniform(*AGREEMENT_VHS)), 1)
    vlas = round(float(rng.uniform(*AGREEMENT_VLAS)), 1)
    return vhs, vlas


def draw_agreement_set(n: int, seed: int) -> Iterator[RadiographPhantom]:
    """``n`` straight, measurable radiographs of evaluation ``seed``'s agreement set."""
    for phantom_seed in agreement_phantom_seeds(seed, n, DATASET_STRIDE):
        vhs, vlas = agreement_scores(phantom_seed)
        yield draw_radiograph(phantom_seed, vhs=vhs, vlas=vlas, crop=False, atrial_infiltrate=False)
