"""Picture-of-picture phantoms: phone photos of a screen showing a VHS radiograph."""

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from inference.phantoms.pop import FAMILIES, draw_pop
from inference.products.vhs.geometry import LANDMARKS
from inference.products.vhs.pop.geometry import check_corners


def test_a_seed_always_gives_the_same_photo_and_truth():
    first, second = draw_pop(3), draw_pop(3)

    assert np.array_equal(np.asarray(first.image), np.asarray(second.image))
    assert first.truth == second.truth
    assert not np.array_equal(np.asarray(first.image), np.asarray(draw_pop(4).image))


@pytest.mark.parametrize("family", FAMILIES)
def test_the_truth_holds_corners_inside_the_photo_and_the_radiographs_own_truth(family):
    for seed in range(4):
        phantom = draw_pop(seed, family)
        truth = phantom.truth
        width, height = phantom.image.size

        assert phantom.image.mode == "RGB"
        assert truth["size"] == [width, height]
        assert truth["family"] == family
        assert truth["screen_in_view"] is True
        assert check_corners(truth["corners"], width, height) is None
        for x, y in truth["corners"]:
            assert 0 <= x <= width
            assert 0 <= y <= height
        assert set(truth["landmarks"]) == set(LANDMARKS)
        assert 8.0 <= truth["vhs"] <= 13.5
        assert truth["vhs_visible"] is True  # the whole film is shown by default
        assert set(truth["nuisance"]) >= {"tilt_degrees", "glare", "moire", "blur_sigma_px"}
        json.dumps(truth)


def test_the_families_draw_different_screens():
    train = {draw_pop(seed, "train", max_side=128).truth["screen"] for seed in range(12)}
    heldout = {draw_pop(seed, "heldout", max_side=128).truth["screen"] for seed in range(12)}

    assert train <= {"viewer", "lightbox", "fullscreen"}
    assert heldout <= {"viewer_light", "lightbox_warm", "laptop"}
    assert not np.array_equal(
        np.asarray(draw_pop(5, "train").image.resize((64, 64))),
        np.asarray(draw_pop(5, "heldout").image.resize((64, 64))),
    )


def _screen_pixels(phantom) -> np.ndarray:
    mask = Image.new("L", phantom.image.size, 0)
    from PIL import ImageDraw

    ImageDraw.Draw(mask).polygon([tuple(c) for c in phantom.truth["corners"]], fill=1)
    return np.asarray(phantom.image)[np.asarray(mask, bool)]


def test_flags_change_their_nuisance():
    plain = draw_pop(9, tilt=10, glare=0, moire=False, blur=0.5)
    tilted = draw_pop(9, tilt=50, glare=0, moire=False, blur=0.5)
    glared = draw_pop(9, tilt=10, glare=1.0, moire=False, blur=0.5)
    blurred = draw_pop(9, tilt=10, glare=0, moire=False, blur=4.0)
    moire = draw_pop(9, tilt=10, glare=0, moire=0.2, blur=0.5)

    assert tilted.truth["nuisance"]["tilt_degrees"] == 50
    assert tilted.truth["corners"] != plain.truth["corners"]
    clipped = [(_screen_pixels(p).min(axis=1) >= 245).mean() for p in (plain, glared)]
    assert clipped[1] > clipped[0] + 0.01
    sharp = np.abs(np.diff(np.asarray(plain.image.convert("L"), float), axis=1)).mean()
    soft = np.abs(np.diff(np.asarray(blurred.image.convert("L"), float), axis=1)).mean()
    assert soft < 0.8 * sharp
    assert moire.truth["nuisance"]["moire"] == 0.2
    assert not np.array_equal(np.asarray(moire.image), np.asarray(plain.image))
    assert plain.truth["vhs"] == tilted.truth["vhs"]  # the same dog at any difficulty


def test_out_of_view_pushes_a_corner_out_of_the_photo():
    for seed in range(3):
        phantom = draw_pop(seed, out_of_view=True)
        width, height = phantom.image.size
        corners = np.array(phantom.truth["corners"])

        assert phantom.truth["screen_in_view"] is False
        assert (
            (corners[:, 0] < 0).any()
            or (corners[:, 0] > width).any()
            or (corners[:, 1] < 0).any()
            or (corners[:, 1] > height).any()
        )


def test_make_phantom_pop_writes_the_photo_and_prints_its_truth(tmp_path):
    out = tmp_path / "photo.jpg"
    stdout = StringIO()

    call_command(
        "make_phantom", "pop", "--seed", "7", "--tilt", "30", "--glare", "0.6", "--moire",
        "--family", "heldout", "--out", str(out), stdout=stdout,
    )  # fmt: skip
    truth = json.loads(stdout.getvalue())

    assert truth["file"] == str(out)
    assert truth["family"] == "heldout"
    assert truth["nuisance"]["tilt_degrees"] == 30
    assert truth["nuisance"]["glare"] == 0.6
    assert truth["nuisance"]["moire"] > 0
    assert len(truth["corners"]) == 4
    assert Image.open(out).size == tuple(truth["size"])


def test_make_phantom_pop_refuses_an_impossible_tilt(tmp_path):
    with pytest.raises(CommandError, match="tilt"):
        call_command("make_phantom", "pop", "--tilt", "85", "--out", str(tmp_path / "x.jpg"))
