"""Leukemia phantoms, the reference networks' pieces, and their training (no database)."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean

import numpy as np
import pytest
import torch
from PIL import Image

from inference.phantoms.leukemia import (
    CLASSES,
    DATASET_STRIDE,
    draw_cell,
    draw_dataset,
)
from inference.products.leukemia.evaluation import evaluate
from inference.products.leukemia.network import (
    FEATURE_DIM,
    INPUT_SIZE,
    Classifier,
    FeatureExtractor,
    FeatureScaler,
    image_to_tensor,
)
from inference.products.leukemia.training import (
    WEIGHT_FILES,
    load_reference_models,
    train_reference_models,
)
from inference.runtime.manifest import write_manifest
from inference.runtime.product import product
from inference.runtime.reproducible import evaluation_dataset_seed, train_dataset_seed
from inference.runtime.serving import ProductRuntime


def _truths(cell_class: str, count: int = 50) -> list[dict]:
    return [draw_cell(cell_class, seed, size=96).truth for seed in range(count)]


def test_same_seed_draws_identical_pixels() -> None:
    first, second = draw_cell("Pre", 1234), draw_cell("Pre", 1234)
    assert np.array_equal(np.asarray(first.image), np.asarray(second.image))
    assert first.truth == second.truth


def test_different_seeds_draw_different_cells() -> None:
    assert not np.array_equal(
        np.asarray(draw_cell("Pre", 1).image), np.asarray(draw_cell("Pre", 2).image)
    )


@pytest.mark.parametrize("cell_class", CLASSES)
def test_every_class_draws_an_rgb_image_of_the_requested_size(cell_class: str) -> None:
    phantom = draw_cell(cell_class, 7, size=100)
    assert phantom.image.mode == "RGB"
    assert phantom.image.size == (100, 100)
    assert phantom.truth["class"] == cell_class
    assert phantom.truth["size"] == [100, 100]


def test_unknown_class_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unknown cell class"):
        draw_cell("Blast", 0)


def test_truth_is_json_serialisable_and_records_seed_and_stain() -> None:
    truth = draw_cell("Pro", 42).truth
    assert json.loads(json.dumps(truth)) == truth
    assert truth["seed"] == 42
    assert set(truth["stain"]) == {"hue_shift", "saturation", "brightness"}


def test_truth_nc_ratio_is_the_ratio_of_the_measured_areas() -> None:
    for truth in _truths("Early", 10):
        assert 0 < truth["nucleus_area_px"] < truth["cell_area_px"]
        assert truth["nc_ratio"] == pytest.approx(
            truth["nucleus_area_px"] / truth["cell_area_px"], abs=1e-4
        )


def test_pro_nuclei_are_larger_on_average_than_benign_nuclei() -> None:
    pro = mean(t["nucleus_area_px"] for t in _truths("Pro"))
    benign = mean(t["nucleus_area_px"] for t in _truths("Benign"))
    assert pro > 1.5 * benign


def test_nucleoli_follow_the_stage_benign_none_pro_two_to_four() -> None:
    assert all(t["n_nucleoli"] == 0 for t in _truths("Benign"))
    assert all(t["n_nucleoli"] <= 1 for t in _truths("Early", 20))
    assert all(1 <= t["n_nucleoli"] <= 2 for t in _truths("Pre", 20))
    assert all(2 <= t["n_nucleoli"] <= 4 for t in _truths("Pro", 20))


def test_pro_nuclei_are_more_irregular_than_benign_nuclei() -> None:
    pro = mean(t["nucleus_irregularity"] for t in _truths("Pro"))
    benign = mean(t["nucleus_irregularity"] for t in _truths("Benign"))
    assert pro > benign


def test_classes_overlap_so_size_alone_cannot_separate_neighbours() -> None:
    early = [t["nucleus_area_px"] for t in _truths("Early")]
    pre = [t["nucleus_area_px"] for t in _truths("Pre")]
    assert max(early) > min(pre)


def test_draw_dataset_interleaves_classes_and_seeds_each_image_from_its_index() -> None:
    cells = list(draw_dataset(2, seed=3, size=64))
    assert [c.truth["class"] for c in cells] == list(CLASSES) * 2
    assert [c.truth["seed"] for c in cells] == [3 * DATASET_STRIDE + i for i in range(8)]
    again = draw_cell(CLASSES[1], 3 * DATASET_STRIDE + 1, size=64)
    assert np.array_equal(np.asarray(cells[1].image), np.asarray(again.image))


def test_training_and_evaluation_phantoms_never_share_a_seed() -> None:
    train = {train_dataset_seed(seed) for seed in range(100)}
    held_out = {evaluation_dataset_seed(seed) for seed in range(100)}
    assert not train & held_out


@pytest.mark.parametrize(
    ("mode", "size"),
    [
        ("L", (37, 53)),
        ("RGBA", (101, 77)),
        ("RGB", (128, 128)),
        ("I;16", (50, 40)),
        ("F", (33, 33)),
    ],
)
def test_image_to_tensor_gives_a_float_rgb_square_for_any_mode(
    mode: str, size: tuple[int, int]
) -> None:
    tensor = image_to_tensor(Image.new(mode, size))
    assert tensor.shape == (3, INPUT_SIZE, INPUT_SIZE)
    assert tensor.dtype == torch.float32
    assert torch.isfinite(tensor).all()


def test_image_to_tensor_lays_transparency_over_white() -> None:
    transparent = Image.new("RGBA", (33, 21), (0, 0, 0, 0))
    white = Image.new("RGB", (33, 21), (255, 255, 255))
    assert torch.equal(image_to_tensor(transparent), image_to_tensor(white))


def test_feature_scaler_standardises_with_its_buffers() -> None:
    scaler = FeatureScaler()
    scaler.mean.copy_(torch.arange(FEATURE_DIM, dtype=torch.float32))
    scaler.std.fill_(2.0)
    features = torch.ones(3, FEATURE_DIM)
    expected = (features - torch.arange(FEATURE_DIM)) / 2.0
    assert torch.allclose(scaler(features), expected)
    assert set(scaler.state_dict()) == {"mean", "std"}


def test_networks_map_images_to_features_to_four_logits() -> None:
    extractor, classifier = FeatureExtractor().eval(), Classifier().eval()
    with torch.inference_mode():
        features = extractor(torch.randn(2, 3, INPUT_SIZE, INPUT_SIZE))
        logits = classifier(features)
    assert features.shape == (2, FEATURE_DIM)
    assert logits.shape == (2, len(CLASSES))


def test_state_dicts_round_trip_with_weights_only(tmp_path: Path) -> None:
    torch.manual_seed(0)
    inputs = torch.randn(2, 3, INPUT_SIZE, INPUT_SIZE)
    for module_type in (FeatureExtractor, FeatureScaler, Classifier):
        module = module_type().eval()
        path = tmp_path / f"{module_type.__name__}.pt"
        torch.save(module.state_dict(), path)
        assert path.stat().st_size < 3 * 1024 * 1024
        restored = module_type()
        restored.load_state_dict(torch.load(path, weights_only=True), strict=True)
        restored.eval()
        x = inputs if module_type is FeatureExtractor else torch.randn(2, FEATURE_DIM)
        with torch.inference_mode():
            assert torch.equal(module(x), restored(x))


def test_training_is_deterministic_and_writes_loadable_weights(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    lines: list[str] = []
    summaries = [
        train_reference_models(tmp_path / run, seed=5, log=lines.append, n_per_class=6, epochs=1)
        for run in ("a", "b")
    ]
    assert torch.get_num_threads() == threads  # process-wide settings are restored
    assert any("epoch 1/1" in line for line in lines)
    assert summaries[0]["n_train"] == 24
    assert json.loads(json.dumps(summaries[0])) == summaries[0]
    for filename in WEIGHT_FILES.values():
        first = torch.load(tmp_path / "a" / filename, weights_only=True)
        second = torch.load(tmp_path / "b" / filename, weights_only=True)
        assert first.keys() == second.keys()
        assert all(torch.equal(first[key], second[key]) for key in first)
    models = load_reference_models(tmp_path / "a")
    assert not any(module.training for module in models)


def test_evaluate_reports_a_confusion_matrix_with_true_classes_as_rows(tmp_path: Path) -> None:
    """Through the serving runtime, on untrained networks saved as a model store."""
    torch.manual_seed(0)
    (tmp_path / "leukemia").mkdir()
    modules = {"feature_extractor": FeatureExtractor(), "scaler": FeatureScaler()}
    modules["classifier"] = Classifier()
    for role, module in modules.items():
        torch.save(module.state_dict(), tmp_path / "leukemia" / WEIGHT_FILES[role])
    write_manifest(tmp_path, "leukemia", "untrained", dict(WEIGHT_FILES))
    runtime = ProductRuntime(product("leukemia"), store=tmp_path)
    try:
        report = evaluate(runtime, n_per_class=3, seed=0)
    finally:
        runtime.unload()
    assert report["n"] == 12
    assert report["confusion"]["labels"] == list(CLASSES)
    matrix = report["confusion"]["matrix"]
    assert [sum(row) for row in matrix] == [3, 3, 3, 3]
    assert report["accuracy"] == pytest.approx(sum(matrix[i][i] for i in range(4)) / 12, abs=1e-4)
    assert all(report["per_class"][name]["n"] == 3 for name in CLASSES)
    assert json.loads(json.dumps(report)) == report
