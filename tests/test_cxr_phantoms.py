"""Chest radiograph phantoms: determinism, findings and their regions, DICOM round trips."""

from __future__ import annotations

import io
import itertools
import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut, apply_voi_lut, apply_windowing
from pydicom.uid import UID

from inference.phantoms import cxr_dicom
from inference.phantoms.cxr import (
    DATASET_STRIDE,
    FINDINGS,
    MASK_SIZE,
    draw_dataset,
    draw_study,
    mask_array,
    sample_findings,
    save_dicom,
)
from inference.runtime.reproducible import evaluation_dataset_seed, train_dataset_seed

SMALL = 96  # the geometry and the truth are the same at any size; small draws are cheap
SHEET = Path(__file__).resolve().parents[1] / "docs" / "images" / "cxr_phantoms.png"


def _cells(truth: dict, name: str, shape: tuple[int, int], grow: int = 0) -> np.ndarray:
    """A finding's coarse truth mask at image resolution, optionally grown by cells."""
    cells = mask_array(truth["lesions"][name]["mask"]).astype(np.uint8)
    if grow:
        cells = cv2.dilate(cells, np.ones((2 * grow + 1,) * 2, np.uint8))
    return cv2.resize(cells, shape[::-1], interpolation=cv2.INTER_NEAREST) > 0


def _center(box: list[float], frame: list[float]) -> tuple[float, float]:
    """A box's centre relative to another (the lungs' box): 0..1 across and down."""
    x = ((box[0] + box[2]) / 2 - frame[0]) / (frame[2] - frame[0])
    y = ((box[1] + box[3]) / 2 - frame[1]) / (frame[3] - frame[1])
    return x, y


def test_findings_are_the_products_in_the_seeds_order() -> None:
    from inference.products.cxr.network import FINDINGS as NETWORK_FINDINGS

    assert FINDINGS == NETWORK_FINDINGS
    assert len(FINDINGS) == 11


def test_same_seed_draws_identical_pixels_truth_and_file_bytes() -> None:
    first, second = draw_study(17, size=SMALL), draw_study(17, size=SMALL)
    assert np.array_equal(first.pixels, second.pixels)
    assert first.truth == second.truth
    files = []
    for phantom in (first, second):
        buffer = io.BytesIO()
        save_dicom(phantom, buffer)
        files.append(buffer.getvalue())
    assert files[0] == files[1]


def test_different_seeds_draw_different_studies() -> None:
    first, second = draw_study(1, size=SMALL), draw_study(2, size=SMALL)
    assert (
        first.truth["patient"]["study_instance_uid"]
        != second.truth["patient"]["study_instance_uid"]
    )
    assert first.truth["cardiothoracic_ratio"] != second.truth["cardiothoracic_ratio"]
    assert first.truth["anatomy"] != second.truth["anatomy"]


@pytest.mark.parametrize(("index", "name"), list(enumerate(FINDINGS)))
def test_each_finding_shows_inside_its_truth_mask(index: int, name: str) -> None:
    """The same study with and without the finding differs where the mask says, clearly."""
    seed = 40 + index
    with_it = draw_study(seed, [name], size=192)
    without = draw_study(seed, [], size=192)
    assert with_it.truth["findings"] == [name]
    lesion = with_it.truth["lesions"][name]
    assert len(lesion["mask"]) == MASK_SIZE
    assert {len(row) for row in lesion["mask"]} == {MASK_SIZE}
    squared = (with_it.pixels - without.pixels) ** 2
    inside = _cells(with_it.truth, name, squared.shape, grow=1)
    assert squared[inside].sum() / squared.sum() > 0.9
    exact = _cells(with_it.truth, name, squared.shape)
    assert np.sqrt(squared[exact].mean()) > 0.05  # visible: 5 % of the display range (rms)
    x0, y0, x1, y1 = lesion["box"]
    assert 0 <= x0 < x1 <= 1
    assert 0 <= y0 < y1 <= 1
    assert all(0 <= v <= 1 for box in lesion["boxes"] for v in box)


@pytest.mark.parametrize(
    ("name", "zone"),
    [
        ("Tuberculosis", lambda x, y: y < 0.45),
        ("Pleural Effusion", lambda x, y: y > 0.55),
        ("Nodule Mass", lambda x, y: 0 <= x <= 1 and 0 <= y <= 1),
        ("Calcification", lambda x, y: 0 <= x <= 1 and 0 <= y <= 1),
    ],
)
def test_lesions_move_across_seeds_within_their_zone(name: str, zone) -> None:
    centres, sides = [], []
    for seed in range(8):
        truth = draw_study(seed, [name], size=SMALL).truth
        lesion = truth["lesions"][name]
        x, y = _center(lesion["box"], truth["anatomy"]["lungs_box"])
        assert zone(x, y), (seed, x, y)
        if lesion["side"] in ("right", "left"):
            # The patient's right is the image's left.
            assert (x < 0.5) == (lesion["side"] == "right"), (seed, x, lesion["side"])
        centres.append((x, y))
        sides.append(lesion["side"])
    spread = np.std(np.array(centres), axis=0)
    assert spread.max() > 0.08, spread
    assert len(set(sides)) > 1


def test_a_pneumothorax_lies_against_the_apex_or_the_lateral_wall() -> None:
    for seed in range(5):
        truth = draw_study(seed, ["Pneumothorax"], size=SMALL).truth
        lesion, lung = truth["lesions"]["Pneumothorax"], truth["anatomy"]
        side = lung["right_lung_box" if lesion["side"] == "right" else "left_lung_box"]
        x0, y0, x1, _ = lesion["box"]
        height = side[3] - side[1]
        at_wall = x0 - side[0] < 0.1 if lesion["side"] == "right" else side[2] - x1 < 0.1
        assert y0 - side[1] < 0.1 * height or at_wall, (seed, lesion["box"], side)


def test_a_finding_is_drawn_the_same_whatever_else_the_study_has() -> None:
    alone = draw_study(7, ["Nodule Mass"], size=SMALL).truth["lesions"]["Nodule Mass"]
    crowded = draw_study(7, ["Nodule Mass", "Pneumothorax", "Cardiomegaly"], size=SMALL)
    together = crowded.truth["lesions"]["Nodule Mass"]
    assert alone["box"] == together["box"]
    assert alone["diameter_cm"] == together["diameter_cm"]


def test_share_of_normals_and_co_occurrence() -> None:
    drawn = [sample_findings(seed) for seed in range(3000)]
    counts = Counter(len(findings) for findings in drawn)
    assert set(counts) == {0, 1, 2, 3}
    assert 0.34 < counts[0] / len(drawn) < 0.42
    assert Counter(name for findings in drawn for name in findings).keys() == set(FINDINGS)
    pairs = {pair for findings in drawn for pair in itertools.combinations(findings, 2)}
    assert len(pairs) > 40  # findings co-occur freely
    for seed in (0, 3, 11):
        assert draw_study(seed, size=SMALL).truth["findings"] == drawn[seed]


def test_cardiomegaly_has_a_ctr_above_one_half_and_normal_hearts_below() -> None:
    for seed in range(6):
        normal = draw_study(seed, [], size=SMALL).truth
        enlarged = draw_study(seed, ["Cardiomegaly"], size=SMALL).truth
        assert 0.36 < normal["cardiothoracic_ratio"] < 0.5
        assert 0.5 < enlarged["cardiothoracic_ratio"] < 0.7
        assert enlarged["lesions"]["Cardiomegaly"]["ctr"] == pytest.approx(
            enlarged["cardiothoracic_ratio"], abs=1e-3
        )
        for truth in (normal, enlarged):  # the drawn boxes measure the same ratio
            heart, lungs = truth["anatomy"]["heart_box"], truth["anatomy"]["lungs_box"]
            measured = (heart[2] - heart[0]) / (lungs[2] - lungs[0])
            assert measured == pytest.approx(truth["cardiothoracic_ratio"], abs=0.05)


def test_truth_is_json_safe() -> None:
    truth = draw_study(33, ["Tuberculosis", "Pleural Effusion"], size=SMALL).truth
    assert json.loads(json.dumps(truth, allow_nan=False)) == truth
    assert set(truth["labels"]) == set(FINDINGS)
    assert sorted(truth["lesions"]) == ["Pleural Effusion", "Tuberculosis"]


def _covering_seeds() -> list[int]:
    """Seeds whose encodings cover every syntax, bit depth, photometric and VOI choice."""
    wanted = {
        *(("transfer_syntax", name) for name in cxr_dicom.TRANSFER_SYNTAXES),
        *(("bits_stored", bits) for bits in (8, 12, 16)),
        *(("photometric", p) for p in ("MONOCHROME1", "MONOCHROME2")),
        *(("voi", voi) for voi in ("window", "lut", "none")),
        *(("voi_function", f) for f in cxr_dicom.VOI_FUNCTIONS),
        *(("modality", m) for m in ("DX", "CR")),
        ("rescaled", True),
    }
    seeds = []
    for seed in range(400):
        encoding = cxr_dicom.sample_encoding(np.random.default_rng([seed, 8]))
        features = {(key, encoding.get(key)) for key, _ in wanted} | {
            ("rescaled", encoding["rescale"] not in (None, [1.0, 0.0]))
        }
        if features & wanted:
            seeds.append(seed)
            wanted -= features
        if not wanted:
            return seeds
    raise AssertionError(f"no seed below 400 gives {wanted}")


def _pydicom_display(ds: pydicom.Dataset) -> np.ndarray:
    """The display pipeline from pydicom's own functions (PS3.4 N.2.1)."""
    values = apply_modality_lut(ds.pixel_array, ds)
    if "VOILUTSequence" in ds:
        shown = apply_voi_lut(values, ds) / (2.0 ** ds.VOILUTSequence[0].LUTDescriptor[2] - 1)
    elif "WindowCenter" in ds:
        low, high = apply_modality_lut(np.array([0, 2**ds.BitsStored - 1]), ds)
        shown = (apply_windowing(values, ds) - low) / (high - low)
    else:
        shown = (values - values.min()) / (values.max() - values.min())
    return 1.0 - shown if ds.PhotometricInterpretation == "MONOCHROME1" else shown


def test_saved_files_read_back_to_the_display_image_in_every_encoding(tmp_path: Path) -> None:
    dicom = pytest.importorskip("inference.imaging.dicom")
    seen = Counter()
    for seed in _covering_seeds():
        phantom = draw_study(seed, size=(80, 96))
        path = tmp_path / f"{seed}.dcm"
        save_dicom(phantom, path)
        assert path.read_bytes()[128:132] == b"DICM"
        ds = pydicom.dcmread(path)
        encoding, patient = phantom.truth["encoding"], phantom.truth["patient"]
        syntax = cxr_dicom.TRANSFER_SYNTAXES[encoding["transfer_syntax"]]
        assert ds.file_meta.TransferSyntaxUID == syntax
        assert (ds.BitsStored, ds.BitsAllocated) == (
            encoding["bits_stored"],
            encoding["bits_allocated"],
        )
        assert ds.PhotometricInterpretation == encoding["photometric"]
        assert np.array_equal(ds.pixel_array, phantom.stored)
        np.testing.assert_allclose(_pydicom_display(ds), phantom.pixels, atol=1e-5)
        image = dicom.read_image(path, max_pixels=10**6)
        np.testing.assert_allclose(image.pixels, phantom.pixels, atol=1e-4)
        assert image.header.patient_id == patient["patient_id"]
        assert ds.PatientID[:2] == "PH"
        assert ds.PatientID[2:].isdigit()
        assert ds.PatientAge == patient["patient_age"]
        assert ds.PatientAge[:3].isdigit()
        assert ds.PatientAge[3] == "Y"
        assert ds.PatientSex in ("M", "F")
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            assert UID(ds[keyword].value).is_valid
        assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
        assert ds.StudyInstanceUID == patient["study_instance_uid"]
        assert ds.Modality == encoding["modality"]
        assert ds.SOPClassUID == (
            "1.2.840.10008.5.1.4.1.1.1.1" if ds.Modality == "DX" else "1.2.840.10008.5.1.4.1.1.1"
        )
        seen.update([encoding["transfer_syntax"], encoding["photometric"], encoding["voi"]])
    assert set(cxr_dicom.TRANSFER_SYNTAXES) <= set(seen)


def test_sizes_and_refusals() -> None:
    assert draw_study(3, size=(120, 100)).pixels.shape == (100, 120)
    assert max(draw_study(3, size=128).pixels.shape) == 128
    pixels = draw_study(3, size=SMALL).pixels
    assert pixels.dtype == np.float32
    assert 0.0 <= pixels.min()
    assert pixels.max() <= 1.0
    with pytest.raises(ValueError, match="unknown findings"):
        draw_study(0, ["Pneumonia"])
    with pytest.raises(ValueError, match="seed"):
        draw_study(-1)
    with pytest.raises(ValueError, match="size"):
        draw_study(0, size=40)


def test_dataset_seeds_are_strided_so_training_and_evaluation_never_share_a_study() -> None:
    first = next(draw_dataset(1, train_dataset_seed(1), size=SMALL))
    assert first.truth["seed"] == train_dataset_seed(1) * DATASET_STRIDE
    assert {train_dataset_seed(s) for s in range(5)}.isdisjoint(
        {evaluation_dataset_seed(s) for s in range(5)}
    )


def test_the_contact_sheet_is_committed_and_small() -> None:
    assert SHEET.stat().st_size < 300 * 1024
    sheet = cv2.imread(str(SHEET), cv2.IMREAD_GRAYSCALE)
    assert sheet.shape[1] == 4 * 200
    assert sheet.shape[0] > 4 * 200
