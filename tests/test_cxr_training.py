"""Chest X-ray reference training and evaluation: a tiny deterministic run, the scoring path
shared with the predictor, the metrics on inputs whose answers are known, the shipped files.

Fast on purpose (small studies, one epoch): the real training is a command
(``python -m inference.products.cxr.training``), never run by the suite.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from django.apps import apps

from inference.phantoms.cxr import MASK_SIZE as PHANTOM_MASK_SIZE
from inference.phantoms.cxr import draw_study
from inference.products.cxr import evaluation, training
from inference.products.cxr.evaluation import (
    StandInRuntime,
    auroc,
    cell_in_mask,
    choose_thresholds,
    dilate,
    hits,
    hottest_cell,
    localisation,
    prior_maps,
    score_images,
    sensitivity_specificity,
    youden_threshold,
)
from inference.products.cxr.labels import FINDINGS
from inference.products.cxr.network import MAP_SIZE, FindingsNet, image_to_tensor
from inference.products.cxr.predictor import FindingsPredictor
from inference.runtime.manifest import read_manifest, verify_file
from inference.runtime.reproducible import evaluation_dataset_seed, train_dataset_seed

MODELS = Path(__file__).resolve().parents[1] / "models"
TINY = {"n_train": 8, "n_validation": 6, "epochs": 1, "sizes": (96,), "workers": 0}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("cxr") / "cxr"
    summary = training.train_reference_models(out, seed=3, log=lambda _line: None, **TINY)
    return out, summary


def test_a_tiny_training_is_deterministic_and_loads_back(tiny_run, tmp_path):
    out, summary = tiny_run
    again = tmp_path / "cxr"
    training.train_reference_models(again, seed=3, log=lambda _line: None, **TINY)
    first = (out / "findings.pt").read_bytes()
    assert first == (again / "findings.pt").read_bytes()
    assert training.WEIGHT_FILES == {"findings": "findings.pt"}

    net = training.load_reference_models(out)["findings"]
    assert isinstance(net, FindingsNet)
    assert not net.training
    assert summary["dataset_seed"] == train_dataset_seed(3)
    assert summary["train_indices"] == [0, 8]
    assert summary["validation_indices"] == [8, 14]
    assert summary["readback"] == {"studies": 1, "max_abs_difference": 0.0}
    assert set(summary["thresholds"]) == set(FINDINGS)
    assert all(0.0 <= t <= 1.0 for t in summary["thresholds"].values())
    json.dumps(summary)  # the manifest's notes take it as is


def test_score_images_is_the_predictors_path(tiny_run):
    out, _ = tiny_run
    net = training.load_reference_models(out)["findings"]
    studies = [draw_study(seed, size=size).pixels for seed, size in ((5, 130), (6, 300))]
    probabilities, maps = score_images(net, studies)
    assert probabilities.shape == (2, len(FINDINGS))
    assert maps.shape == (2, len(FINDINGS), MAP_SIZE, MAP_SIZE)

    predictor = FindingsPredictor(torch.device("cpu"))
    predictor.load({"findings": torch.load(out / "findings.pt", weights_only=True)})
    for index, pixels in enumerate(studies):
        with torch.inference_mode():
            row = predictor.forward(predictor.preprocess({"pixels": pixels})[None])[0]
        served = predictor.postprocess(row, {})
        assert np.allclose(served["probabilities"], probabilities[index].numpy(), atol=1e-5)
        assert torch.allclose(served["maps"], maps[index], atol=1e-4)
        with torch.inference_mode():
            logits, _ = net(image_to_tensor(pixels)[None])
        assert torch.allclose(torch.sigmoid(logits[0]), probabilities[index], atol=1e-6)


def test_evaluate_through_a_runtime_reads_the_dicom_and_reports(tiny_run):
    out, _ = tiny_run
    runtime = StandInRuntime(training.load_reference_models(out)["findings"])
    report = evaluation.evaluate(runtime, 4, 11, size=96, n_prior=3, workers=0, training_seed=3)
    assert report["dataset_seed"] == evaluation_dataset_seed(11)
    assert report["prior_dataset_seed"] == train_dataset_seed(3)  # the studies it trained on
    assert set(report["per_finding"]) == set(FINDINGS)
    positives = sum(row["n_positive"] for row in report["per_finding"].values())
    assert report["localisation"]["n"] == positives
    assert report["localisation"]["dilation_cells"] == 1
    # The stand-in's run decodes a DICOM item as the worker does; it has no whole pipeline.
    assert report["pipeline"] is None


# --- metrics on known inputs ----------------------------------------------------------------


def test_auroc_matches_pair_counting():
    rng = np.random.default_rng(0)
    labels = rng.random(60) < 0.3
    scores = np.round(rng.random(60) + labels * 0.4, 1)  # rounded: many ties
    pairs = [
        1.0 if p > n else 0.5 if p == n else 0.0 for p in scores[labels] for n in scores[~labels]
    ]
    assert auroc(scores, labels) == pytest.approx(np.mean(pairs))
    assert auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert auroc([0.5] * 4, [0, 1, 0, 1]) == 0.5
    assert auroc([0.1, 0.2], [1, 1]) is None


def test_youden_threshold_and_the_rates_at_it():
    scores = np.array([0.05, 0.1, 0.2, 0.3, 0.8, 0.9])
    labels = np.array([0, 0, 0, 1, 1, 1])
    threshold = youden_threshold(scores, labels)
    assert threshold == pytest.approx(0.25)
    assert sensitivity_specificity(scores, labels, threshold) == (1.0, 1.0)
    # One positive below a negative: the best cut keeps specificity, or sensitivity.
    scores = np.array([0.1, 0.2, 0.6, 0.4, 0.7, 0.9])
    labels = np.array([0, 0, 0, 1, 1, 1])
    threshold = youden_threshold(scores, labels)
    sensitivity, specificity = sensitivity_specificity(scores, labels, threshold)
    assert sensitivity + specificity - 1 == pytest.approx(2 / 3)
    assert sensitivity_specificity([0.2, 0.7], [0, 1], 0.7) == (1.0, 1.0)
    chosen = choose_thresholds(
        np.tile(scores[:, None], (1, len(FINDINGS))), np.tile(labels[:, None], (1, 11))
    )
    assert set(chosen) == set(FINDINGS)
    assert len(set(chosen.values())) == 1
    with pytest.raises(ValueError, match="positives and negatives"):
        youden_threshold([0.1, 0.2], [1, 1])


def test_the_hottest_cell_against_the_mask_grid():
    assert evaluation.MASK_SIZE == PHANTOM_MASK_SIZE
    assert evaluation.MAP_SIZE == MAP_SIZE
    score_map = np.zeros((16, 16))
    score_map[3, 4] = 5.0
    assert hottest_cell(score_map) == (3, 4)
    mask = np.zeros((32, 32), dtype=bool)
    mask[7, 9] = True  # inside map cell (3, 4): rows 6-7, columns 8-9
    assert cell_in_mask((3, 4), mask)
    assert hits(score_map, mask, dilation=0)
    mask[:] = False
    mask[5, 8] = True  # one mask cell above that map cell
    assert not hits(score_map, mask, dilation=0)
    assert hits(score_map, mask, dilation=1)
    mask[:] = False
    mask[4, 8] = True  # two above: a miss either way
    assert not hits(score_map, mask, dilation=1)
    grown = dilate(np.eye(4, dtype=bool)[:, ::-1], 1)
    assert grown.sum() == 14
    assert grown[0, 2]
    assert not grown[0, 0]


def test_localisation_scores_the_model_and_the_priors():
    count = len(FINDINGS)
    labels = np.zeros((4, count), dtype=int)
    labels[:, 0] = 1  # Tuberculosis everywhere, each study's lesion in another corner
    labels[0, 1] = 1  # Cardiomegaly on the first study only
    maps = np.zeros((4, count, 16, 16), dtype=np.float32)
    masks = np.zeros((4, count, 32, 32), dtype=bool)
    corners = [(0, 0), (0, 15), (15, 0), (15, 15)]
    for i, (row, column) in enumerate(corners):
        maps[i, 0, row, column] = 1.0  # the model finds each lesion
        masks[i, 0, 2 * row, 2 * column] = True
    masks[0, 1, 20:26, 12:20] = True
    maps[0, 1, 0, 0] = 1.0  # and misses the heart
    priors = prior_maps(maps, labels)
    assert priors["Tuberculosis"].shape == (16, 16)
    assert priors["Nodule Mass"] is None
    assert priors["Tuberculosis"][0, 0] == pytest.approx(0.25)
    fixed = {"Tuberculosis": np.eye(16)}  # hottest at (0, 0): right for the first study only
    result = localisation(maps, masks, labels, {"prior": fixed})
    assert result["n"] == 5
    assert result["hit"] == pytest.approx(4 / 5)
    assert result["strict"] == pytest.approx(4 / 5)
    assert result["prior"] == pytest.approx(1 / 5)
    assert result["per_finding"]["Tuberculosis"] == {
        "n": 4,
        "hit": 1.0,
        "strict": 1.0,
        "prior": 0.25,
    }
    assert result["per_finding"]["Cardiomegaly"]["hit"] == 0.0
    assert result["per_finding"]["Nodule Mass"] == {
        "n": 0,
        "hit": None,
        "strict": None,
        "prior": None,
    }


# --- the shipped model ----------------------------------------------------------------------


@pytest.mark.skipif(not (MODELS / "cxr" / "manifest.json").is_file(), reason="not trained yet")
def test_the_shipped_model_matches_its_manifest_and_thresholds():
    manifest = read_manifest(MODELS, "cxr")
    assert manifest.model_version == training.MODEL_VERSION == "cxr-ref-phantom-1.0"
    assert verify_file(manifest, "findings") is None
    assert manifest.notes["thresholds"] == evaluation.THRESHOLDS
    # The product's setting defaults to the thresholds chosen with the shipped model.
    defaults = apps.get_app_config("cxr").settings_defaults
    assert defaults["CXR_THRESHOLDS"] == evaluation.THRESHOLDS
    assert manifest.notes["training"]["thresholds"] == evaluation.THRESHOLDS
    net = training.load_reference_models(MODELS / "cxr")["findings"]  # every key matches
    assert (MODELS / "cxr" / "findings.pt").stat().st_size < 3_000_000
    assert sum(p.numel() for p in net.parameters()) == manifest.notes["training"]["parameters"]
