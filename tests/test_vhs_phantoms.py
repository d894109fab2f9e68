"""VHS radiograph phantoms, the reference networks' pieces and their training (no database)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inference.phantoms.vhs import (
    DATASET_STRIDE,
    NEGATIVE_KINDS,
    draw_dataset,
    draw_negative,
    draw_radiograph,
)
from inference.products.vhs.geometry import LANDMARKS, measure
from inference.products.vhs.network import (
    CLASSIFIER_CHANNELS,
    CLASSIFIER_INPUT_SIZE,
    HEATMAP_SIZE,
    INPUT_SIZE,
    LandmarkNet,
    RadiographClassifier,
    classifier_input,
    expected_position,
    image_to_tensor,
)
from inference.products.vhs.training import (
    N_FOLDS,
    WEIGHT_FILES,
    load_reference_models,
    train_reference_models,
)
from inference.runtime.reproducible import evaluation_dataset_seed, train_dataset_seed

SMALL = 256  # draws are cheap at this size; the geometry is the same at any size


def _measured(truth: dict) -> tuple[float, float]:
    points = {name: tuple(xy) for name, xy in truth["landmarks"].items()}
    result = measure(points, *truth["size"])
    return result.vhs, result.vlas


def test_same_seed_draws_identical_pixels_and_truth() -> None:
    first, second = draw_radiograph(17, max_side=SMALL), draw_radiograph(17, max_side=SMALL)
    assert np.array_equal(np.asarray(first.image), np.asarray(second.image))
    assert first.truth == second.truth


def test_different_seeds_draw_different_dogs() -> None:
    first, second = draw_radiograph(1, max_side=SMALL), draw_radiograph(2, max_side=SMALL)
    assert first.truth["landmarks"] != second.truth["landmarks"]


@pytest.mark.parametrize("seed", range(12))
def test_measuring_the_truth_landmarks_gives_the_truth_scores(seed: int) -> None:
    truth = draw_radiograph(seed, max_side=SMALL).truth
    assert _measured(truth) == (truth["vhs"], truth["vlas"])
    assert set(truth["landmarks"]) == set(LANDMARKS)


@pytest.mark.parametrize(
    ("vhs", "vlas", "size"),
    [
        (8.0, 1.2, (400, 400)),
        (9.7, 1.8, (640, 420)),
        (11.2, 2.6, (384, 700)),
        (13.5, 3.2, (768, 512)),
        (12.3, 1.4, (500, 600)),
    ],
)
def test_requested_scores_are_honoured_at_any_size_and_rotation(
    vhs: float, vlas: float, size: tuple[int, int]
) -> None:
    for seed in range(4):  # different seeds: different rotations and spine bends
        phantom = draw_radiograph(seed, vhs=vhs, vlas=vlas, size=size)
        assert phantom.image.size == size
        assert (phantom.truth["vhs"], phantom.truth["vlas"]) == (vhs, vlas)
        assert _measured(phantom.truth) == (vhs, vlas)


def test_one_seed_is_the_same_framing_at_every_requested_score() -> None:
    small = draw_radiograph(5, vhs=9.0, max_side=SMALL).truth
    large = draw_radiograph(5, vhs=12.5, max_side=SMALL).truth
    assert small["size"] == large["size"]
    assert small["rotation_deg"] == large["rotation_deg"]
    assert small["landmarks"]["Vertebra A"] == large["landmarks"]["Vertebra A"]


def test_scores_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="vhs"):
        draw_radiograph(0, vhs=20.0)
    with pytest.raises(ValueError, match="vlas"):
        draw_radiograph(0, vlas=0.2)


def test_drawn_population_mixes_normal_and_enlarged_hearts_and_rotations() -> None:
    truths = [draw_radiograph(seed, max_side=160).truth for seed in range(60)]
    scores = [truth["vhs"] for truth in truths]
    assert min(scores) < 10.0 < 10.8 < max(scores)
    assert max(abs(truth["rotation_deg"]) for truth in truths) > 8.0
    assert all(abs(truth["rotation_deg"]) <= 15.0 for truth in truths)


def test_tight_crops_record_landmarks_outside_the_frame() -> None:
    truths = [draw_radiograph(seed, max_side=160).truth for seed in range(80)]
    outside = [t for t in truths if not t["vlas_visible"] and not t["atrial_infiltrate"]]
    assert outside, "some crops must push a landmark out of the frame"
    for truth in outside:
        coordinates = np.array(list(truth["landmarks"].values()))
        assert ((coordinates < 0) | (coordinates > 1)).any()
    assert any(not t["vhs_visible"] for t in truths if t["tight_crop"])


def test_crop_false_keeps_every_landmark_in_the_frame() -> None:
    for seed in [*range(20), 58, 97, 115, 200, 212]:  # the last five need a zoom-out
        truth = draw_radiograph(seed, crop=False, max_side=160, atrial_infiltrate=False).truth
        assert truth["vhs_visible"]
        assert truth["vlas_visible"]


def test_an_atrial_infiltrate_hides_vlas_only_and_changes_nothing_else() -> None:
    hidden = draw_radiograph(4, crop=False, max_side=SMALL, atrial_infiltrate=True)
    clear = draw_radiograph(4, crop=False, max_side=SMALL, atrial_infiltrate=False)
    assert hidden.truth["vhs_visible"]
    assert not hidden.truth["vlas_visible"]
    assert clear.truth["vlas_visible"]
    assert hidden.truth["landmarks"] == clear.truth["landmarks"]
    changed = np.asarray(hidden.image, np.int16) != np.asarray(clear.image, np.int16)
    rows, columns = np.nonzero(changed)
    (x, y), (width, height) = hidden.truth["landmarks"]["VLAS"], hidden.image.size
    # The opacity sits around the atrium: its centre of mass is within 2 vertebrae of the point.
    unit = hidden.truth["vertebral_unit_px"]
    assert abs(columns.mean() - x * width) < 2 * unit
    assert abs(rows.mean() - y * height) < 2 * unit


def test_some_drawn_dogs_have_an_atrial_infiltrate() -> None:
    truths = [draw_radiograph(seed, max_side=96).truth for seed in range(100)]
    share = sum(t["atrial_infiltrate"] for t in truths) / len(truths)
    assert 0.1 < share < 0.3


def test_images_are_grayscale_unless_rgb_is_asked_for() -> None:
    gray = draw_radiograph(3, size=(300, 200))
    rgb = draw_radiograph(3, size=(300, 200), mode="RGB")
    assert (gray.image.mode, gray.image.size, gray.truth["size"]) == ("L", (300, 200), [300, 200])
    assert rgb.image.mode == "RGB"
    assert np.array_equal(np.asarray(rgb.image)[..., 0], np.asarray(gray.image))


def test_default_sizes_vary_within_the_documented_range() -> None:
    sizes = {tuple(draw_radiograph(seed, max_side=None).image.size) for seed in range(6)}
    assert len(sizes) == 6
    assert all(384 <= side <= 768 for size in sizes for side in size)


def test_dataset_seeds_are_strided_so_training_and_evaluation_never_share_a_phantom() -> None:
    first = next(draw_dataset(1, seed=2, max_side=128))
    assert first.truth["seed"] == 2 * DATASET_STRIDE
    assert train_dataset_seed(0) != evaluation_dataset_seed(0)
    assert {train_dataset_seed(s) for s in range(5)}.isdisjoint(
        {evaluation_dataset_seed(s) for s in range(5)}
    )


def test_negatives_of_every_kind_draw_deterministically() -> None:
    kinds: dict[str, Image.Image] = {}
    for seed in range(80):
        image, kind = draw_negative(seed, max_side=200)
        kinds.setdefault(kind, image)
    assert set(kinds) == set(NEGATIVE_KINDS)
    assert kinds["photo"].mode == "RGB"
    assert kinds["photo_gray"].mode == "L"
    again, _ = draw_negative(0, max_side=200)
    assert np.array_equal(np.asarray(again), np.asarray(draw_negative(0, max_side=200)[0]))


def test_regressor_tensor_is_one_standardised_square_channel() -> None:
    tensor = image_to_tensor(draw_radiograph(4, size=(500, 300)).image)
    assert tensor.shape == (1, INPUT_SIZE, INPUT_SIZE)
    assert tensor.dtype == torch.float32
    assert abs(float(tensor.mean())) < 1e-3


def test_classifier_input_sees_no_chroma_in_a_grey_jpeg_and_much_in_a_photo() -> None:
    buffer = io.BytesIO()
    draw_radiograph(4, max_side=SMALL, mode="RGB").image.save(buffer, format="JPEG")
    grey = classifier_input(Image.open(io.BytesIO(buffer.getvalue())))
    seed = next(s for s in range(50) if draw_negative(s, max_side=200)[1] == "photo")
    photo = classifier_input(draw_negative(seed, max_side=200)[0])
    side = CLASSIFIER_INPUT_SIZE
    assert grey.shape == photo.shape == (CLASSIFIER_CHANNELS, side, side)
    assert grey.dtype == torch.float32
    assert float(grey[1].mean()) < 0.05 < float(photo[1].mean())


def test_networks_map_a_batch_to_landmarks_and_a_logit() -> None:
    landmarks, classifier = LandmarkNet().eval(), RadiographClassifier().eval()
    with torch.inference_mode():
        points = landmarks(torch.zeros(3, 1, INPUT_SIZE, INPUT_SIZE))
        side = CLASSIFIER_INPUT_SIZE
        logits = classifier(torch.zeros(3, CLASSIFIER_CHANNELS, side, side))
    assert points.shape == (3, len(LANDMARKS), 3)  # x, y, visibility logit
    assert ((points[..., :2] > 0) & (points[..., :2] < 1)).all()
    assert logits.shape == (3, 1)


def test_a_peaked_heatmap_is_read_off_at_its_cell_centre() -> None:
    heatmaps = torch.zeros((1, 2, HEATMAP_SIZE, HEATMAP_SIZE))
    heatmaps[0, 0, 3, 20] = 1.0  # row 3, column 20
    heatmaps[0, 1, 10, 10] = heatmaps[0, 1, 10, 11] = 0.5  # halfway between two cells
    points = expected_position(heatmaps)[0]
    assert points[0].tolist() == pytest.approx([20.5 / HEATMAP_SIZE, 3.5 / HEATMAP_SIZE])
    assert points[1].tolist() == pytest.approx([11.0 / HEATMAP_SIZE, 10.5 / HEATMAP_SIZE])


def test_state_dicts_round_trip_with_weights_only(tmp_path: Path) -> None:
    for module in (LandmarkNet(), RadiographClassifier()):
        path = tmp_path / "weights.pt"
        torch.save(module.state_dict(), path)
        assert path.stat().st_size < 3 * 1024 * 1024
        loaded = type(module)()
        loaded.load_state_dict(torch.load(path, weights_only=True))
        for name, value in module.state_dict().items():
            assert torch.equal(value, loaded.state_dict()[name])


def test_a_tiny_training_run_is_deterministic_and_loads_back(tmp_path: Path) -> None:
    options = {
        "n_train": 10,
        "epochs": 1,
        "n_negative": 6,
        "classifier_epochs": 1,
        "n_validation": 6,
    }
    first = train_reference_models(tmp_path / "a", seed=3, log=lambda _: None, **options)
    train_reference_models(tmp_path / "b", seed=3, log=lambda _: None, **options)
    assert set(first["files"]) == set(WEIGHT_FILES)
    for filename in WEIGHT_FILES.values():
        a = torch.load(tmp_path / "a" / filename, weights_only=True)
        b = torch.load(tmp_path / "b" / filename, weights_only=True)
        assert all(torch.equal(a[key], b[key]) for key in a)
    models = load_reference_models(tmp_path / "a")
    assert len(models["landmarks"]) == N_FOLDS
    assert not models["classifier"].training
