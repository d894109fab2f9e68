"""The chest X-ray product's findings and results, as its contract (seed 001) names them.

No torch here: the web tier, the serializers and the declaration import these names.
"""

from __future__ import annotations

#: The 11 findings, in the seed's order and spelling.
FINDINGS: tuple[str, ...] = (
    "Tuberculosis",
    "Cardiomegaly",
    "Pleural Thickening",
    "Pleural Effusion",
    "Pneumothorax",
    "Consolidation",
    "Atelectasis",
    "Nodule Mass",
    "Fibrosis",
    "Infiltration",
    "Calcification",
)
NORMAL = "Normal"
TB_PRESUMPTIVE = "TB Presumptive"
#: Any present finding without Tuberculosis.
ABNORMAL = "Abnormal"
RESULTS: tuple[str, ...] = (NORMAL, TB_PRESUMPTIVE, ABNORMAL)


def overall_result(present: list[str]) -> str:
    """``Normal`` with no finding, ``TB Presumptive`` with Tuberculosis, else ``Abnormal``."""
    if not present:
        return NORMAL
    return TB_PRESUMPTIVE if "Tuberculosis" in present else ABNORMAL
