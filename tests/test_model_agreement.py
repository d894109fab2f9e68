"""The agreement figures (issue 21) on inputs whose answers are known, and the plots.

``inference.runtime.agreement`` is the one implementation of Pearson's r, Bland-Altman, the
threshold confusion matrix and the expected calibration error; each is checked here against
figures worked out by hand, so a published figure means what its name says.  Then
``evaluate_models --plots`` is run small for both products and must write its PNGs.
"""

from __future__ import annotations

import json
import math
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from inference.runtime import agreement
from inference.runtime.reproducible import (
    AGREEMENT_SHARE,
    agreement_phantom_seeds,
    evaluation_dataset_seed,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- the metric functions --------------------------------------------------------------------


def test_pearson_r_is_one_for_a_line_minus_one_for_a_falling_line_and_known_in_between():
    x = [1.0, 2.0, 3.0, 4.0, 5.0]

    assert agreement.pearson_r(x, [2 * v + 3 for v in x]) == 1.0
    assert agreement.pearson_r(x, [-v for v in x]) == -1.0
    # By hand: deviations (-2,-1,0,1,2) and (-1.2,-0.2,-2.2,1.8,1.8); sum of products 8,
    # sums of squares 10 and 12.8: r = 8 / sqrt(128) = 0.70711.
    assert agreement.pearson_r(x, [1, 2, 0, 4, 4]) == pytest.approx(8 / math.sqrt(128), abs=1e-4)


def test_pearson_r_is_undefined_for_a_constant_side_or_too_few_pairs():
    assert agreement.pearson_r([1, 2, 3], [5, 5, 5]) is None
    assert agreement.pearson_r([1], [2]) is None
    assert agreement.pearson_r([], []) is None


def test_bland_altman_bias_sd_and_limits_are_those_worked_by_hand():
    truth = [10.0, 10.0, 10.0, 10.0]
    measured = [10.1, 10.3, 9.9, 10.1]  # differences 0.1, 0.3, -0.1, 0.1

    figures = agreement.bland_altman(measured, truth)

    # mean 0.1; squared deviations 0, 0.04, 0.04, 0 -> variance 0.08 / 3 (ddof 1)
    sd = math.sqrt(0.08 / 3)
    assert figures["n"] == 4
    assert figures["bias"] == pytest.approx(0.1, abs=1e-4)
    assert figures["sd"] == pytest.approx(sd, abs=1e-4)
    assert figures["lower"] == pytest.approx(0.1 - 1.96 * sd, abs=1e-4)
    assert figures["upper"] == pytest.approx(0.1 + 1.96 * sd, abs=1e-4)


def test_bland_altman_of_a_single_pair_has_a_bias_and_no_limits():
    figures = agreement.bland_altman([2.0], [1.5])

    assert figures == {"n": 1, "bias": 0.5, "sd": None, "lower": None, "upper": None}


def test_mae_within_and_the_combined_figures():
    measured, truth = [1.0, 2.5, 3.0, 5.0], [1.5, 2.0, 3.0, 4.0]

    figures = agreement.agreement(measured, truth)

    assert figures["n"] == 4
    assert figures["mae"] == pytest.approx((0.5 + 0.5 + 0 + 1) / 4)
    assert figures["within_0_5"] == 0.75  # 0.5 itself counts as within
    assert figures["truth_span"] == [1.5, 4.0]
    assert agreement.mean_absolute_error([], []) is None
    with pytest.raises(ValueError, match="equal-length"):
        agreement.mean_absolute_error([1.0], [1.0, 2.0])


def test_threshold_confusion_counts_each_cell_and_gives_sensitivity_and_specificity():
    truth = [2.5, 2.8, 3.1, 2.6, 1.9, 2.0, 2.4, 1.5]  # four at or above 2.5
    measured = [2.5, 2.9, 2.3, 2.7, 2.6, 1.8, 2.4, 1.6]  # 2.5 exactly counts as enlarged

    lae = agreement.threshold_confusion(measured, truth, 2.5)

    assert (lae["tp"], lae["fn"], lae["fp"], lae["tn"]) == (3, 1, 1, 3)
    assert lae["sensitivity"] == 0.75
    assert lae["specificity"] == 0.75
    none_positive = agreement.threshold_confusion([1.0, 2.0], [1.0, 2.0], 2.5)
    assert none_positive["sensitivity"] is None
    assert none_positive["specificity"] == 1.0


def test_expected_calibration_error_is_the_weighted_gap_per_bin():
    # Bin 13 of 15 (0.8667..0.9333): four answers at 0.9, three right -> gap 0.15.
    # Bin 7 (0.4667..0.5333): two answers at 0.5, one right -> gap 0.
    # Last bin: one answer at exactly 1.0, right -> gap 0.
    confidences = [0.9, 0.9, 0.9, 0.9, 0.5, 0.5, 1.0]
    correct = [True, True, True, False, True, False, True]

    figures = agreement.calibration(confidences, correct)

    assert figures["bins"] == 15
    assert figures["ece"] == pytest.approx(4 / 7 * 0.15, abs=1e-4)
    table = figures["table"]
    assert len(table) == 15
    assert table[13]["n"] == 4
    assert table[13]["accuracy"] == 0.75
    assert table[7]["n"] == 2
    assert table[7]["confidence"] == 0.5
    assert table[14]["n"] == 1  # a confidence of exactly 1 is in the last bin
    assert sum(row["n"] for row in table) == 7
    assert table[0]["accuracy"] is None  # an empty bin has no accuracy


def test_a_perfectly_calibrated_and_a_confident_wrong_model():
    assert agreement.calibration([0.5, 0.5], [True, False])["ece"] == 0.0
    assert agreement.calibration([1.0, 1.0], [False, False])["ece"] == 1.0
    with pytest.raises(ValueError, match=r"0\.\.1"):
        agreement.calibration([1.2], [True])


def test_rate_of_nothing_is_none_not_zero():
    assert agreement.rate([]) is None
    assert agreement.rate([True, False, False, False]) == 0.25


def test_the_agreement_seeds_are_the_end_of_the_odd_evaluation_block():
    stride = 1_000_000
    seeds = agreement_phantom_seeds(20261125, 200, stride)

    block = evaluation_dataset_seed(20261125)
    assert block % 2 == 1  # training draws even dataset seeds only
    assert seeds[0] == block * stride + stride - stride // AGREEMENT_SHARE
    assert seeds[-1] // stride == block  # never spills into the next block
    assert len(seeds) == 200
    with pytest.raises(ValueError, match="agreement set holds"):
        agreement_phantom_seeds(1, stride // AGREEMENT_SHARE + 1, stride)


def test_the_agreement_set_spans_its_ranges_straight_and_measurable():
    from inference.phantoms.vhs_agreement import (
        AGREEMENT_VHS,
        AGREEMENT_VLAS,
        agreement_scores,
    )

    seeds = agreement_phantom_seeds(20261125, 200, 1_000_000)
    scores = [agreement_scores(seed) for seed in seeds]
    vhs, vlas = [s[0] for s in scores], [s[1] for s in scores]

    assert AGREEMENT_VHS[0] <= min(vhs) < 8.8
    assert 12.2 < max(vhs) <= AGREEMENT_VHS[1]
    assert AGREEMENT_VLAS[0] <= min(vlas) < 1.4
    assert 3.0 < max(vlas) <= AGREEMENT_VLAS[1]
    assert sum(v >= 2.5 for v in vlas) >= 40  # enough enlarged atria for a sensitivity


# --- the command and its plots ---------------------------------------------------------------


def run(*args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


def _pngs(directory: Path) -> dict[str, int]:
    found = {}
    for path in sorted(directory.glob("*.png")):
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        found[path.name] = path.stat().st_size
    return found


def test_evaluate_models_leukemia_writes_its_plots_and_reports_calibration(tmp_path):
    report = run("evaluate_models", "leukemia", "--n-per-class", "10", "--plots", str(tmp_path))

    assert set(_pngs(tmp_path)) == {"leukemia_confusion.png", "leukemia_reliability.png"}
    assert all(size < 150_000 for size in _pngs(tmp_path).values())
    assert "Expected calibration error: " in report
    assert "15 equal-width bins" in report
    assert "| high |" in report


def test_evaluate_models_leukemia_json_has_calibration_and_levels():
    result = json.loads(run("evaluate_models", "leukemia", "--n-per-class", "3", "--json"))

    assert result["calibration"]["bins"] == 15
    assert sum(row["n"] for row in result["calibration"]["table"]) == 12
    assert set(result["by_confidence_level"]) == {"high", "medium", "low"}
    assert sum(row["n"] for row in result["by_confidence_level"].values()) == 12


def test_evaluate_models_vhs_writes_its_plots_and_every_figure(tmp_path):
    report = run(
        "evaluate_models",
        "vhs",
        "--n-per-class",
        "6",
        "--n-agreement",
        "8",
        "--plots",
        str(tmp_path),
        "--seed",
        "3",
    )

    assert set(_pngs(tmp_path)) == {
        "vhs_bland_altman.png",
        "vhs_scatter.png",
        "vlas_bland_altman.png",
        "vlas_scatter.png",
        "vhs_error_by_confidence.png",
        "vlas_lae_confusion.png",
    }
    for needle in (
        "VHS Pearson r",
        "VLAS 95 % limits of agreement",
        "LAE (VLAS ≥ 2.5) sensitivity",
        "visible atrium answered code 4",
        "| optimal |",
        "| png_rgb_16bit |",
        "| brick.png |",
    ):
        assert needle in report


def test_evaluate_models_refuses_options_a_product_does_not_have(tmp_path):
    with pytest.raises(CommandError, match="no agreement set"):
        run("evaluate_models", "leukemia", "--n-per-class", "1", "--n-agreement", "5")


def test_plots_without_matplotlib_is_a_clear_command_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: object, **kwargs: object) -> object:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(CommandError, match="needs matplotlib"):
        run("evaluate_models", "leukemia", "--n-per-class", "1", "--plots", str(tmp_path))


def test_the_plotting_module_imports_no_matplotlib_until_it_draws():
    """Serving code may import the module (it does not); matplotlib stays out until a plot."""
    import subprocess
    import sys

    script = (
        "import sys, inference.evaluation_plots, inference.runtime.agreement;"
        "print('matplotlib' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
