"""The shipped picture-of-picture (PoP) network and pipeline, through the serving runtime.

The gate: on a small fresh held-out set of both scene families (a seed the published figures
did not use), the goals of docs/models.md ("Picture-of-picture pipeline") hold.
"""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from inference.phantoms.pop import draw_pop
from inference.phantoms.vhs import draw_negative, draw_radiograph
from inference.products.vhs import pipeline
from inference.products.vhs.evaluation import evaluate_pop
from inference.products.vhs.pop.feedback import feedback_for
from inference.products.vhs.pop.screen import find_screen
from inference.runtime.manifest import read_manifest
from inference.runtime.product import product
from inference.runtime.serving import ProductRuntime

N_GATE = 14  # photos per family; the goals are checked with a margin for so few


@pytest.fixture(scope="module")
def runtime():
    served = ProductRuntime(product("vhs"))
    assert served.load()
    assert served.available("pop"), served.status()["groups"]["pop"]["reason"]
    yield served
    served.unload()


def test_the_pop_networks_are_in_the_manifest_beside_the_vhs_models(settings):
    manifest = read_manifest(settings.MODEL_STORE, "vhs")

    assert {"pop_detector", "pop_corners"} <= set(manifest.files)
    assert {f"landmarks_fold{k}" for k in range(5)} <= set(manifest.files)
    assert "pop_training" in manifest.notes
    for name in ("pop_detector.pt", "pop_corners.pt"):
        assert (settings.MODEL_STORE / "vhs" / name).stat().st_size < 3_000_000


def test_the_pop_figures_hold_on_fresh_held_out_photos_of_both_families(runtime):
    """The goals that are met (docs/models.md) asserted as goals, with a margin of one photo
    for so few: no direct radiograph flagged, detection, median corner error < 1 %; floors
    under the rest (corner p95, Jaccard), so a regression fails while the documented
    shortfall stays visible."""
    result = evaluate_pop(runtime, N_GATE, seed=4242)

    assert result["direct_radiographs_flagged"] == 0
    assert result["non_radiographs_flagged"] == 0
    train, heldout = result["families"]["train"], result["families"]["heldout"]
    assert train["detected"] == N_GATE
    assert heldout["detected"] >= N_GATE - 1
    for figures in (train, heldout):
        assert figures["corner_error_median"] < 0.01
        assert figures["corner_error_p95"] < 0.06
        assert figures["jaccard_mean"] >= 0.88
        assert figures["out_of_view_code_7"] >= figures["out_of_view_n"] - 1


def test_measure_rectifies_a_pop_photo_and_measures_it(runtime):
    phantom = draw_pop(31, "heldout", tilt=25, glare=0, blur=0.5)

    result = pipeline.measure(runtime, {"image": phantom.image, "rectified": True}, None)
    frame = result["frame"]

    assert frame["pop_detected"] is True
    assert frame["result_code"] in (1, 2, 3, 4)
    assert frame["vhs"] == pytest.approx(phantom.truth["vhs"], abs=1.0)
    assert "rectified_image" in result
    assert frame["quality"]["screen_in_view"] is True


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_a_direct_radiograph_is_not_taken_for_a_photo_of_a_screen(runtime, mode):
    film = draw_radiograph(32, mode=mode)

    frame = pipeline.measure(runtime, {"image": film.image}, None)["frame"]

    assert frame["pop_detected"] is False
    assert frame["result_code"] in (1, 2, 3, 4, 5)


def test_a_screen_partly_out_of_view_is_code_7_with_not_in_view_feedback(runtime):
    phantom = draw_pop(33, out_of_view=True)

    frame = pipeline.measure_frame(runtime, {"image": phantom.image}, None)

    assert frame.pop_detected is True
    assert frame.result_code == 7
    assert feedback_for(7, True, frame.quality)[0] == "not_in_view"


def test_non_radiographs_are_not_flagged_as_photos_of_a_screen(runtime):
    flagged = [
        find_screen(runtime, draw_negative(seed)[0], None).pop_detected for seed in range(12)
    ]

    assert sum(flagged) == 0


@pytest.mark.parametrize(
    ("nuisance", "expected"),
    [
        ({"glare": 1.0}, "glare"),
        ({"blur": 5.0}, "blur"),
        ({"tilt": 60.0}, "tilt"),
    ],
)
def test_each_nuisance_gives_its_feedback(runtime, nuisance, expected):
    phantom = draw_pop(34, **{"glare": 0.0, "blur": 0.4, "tilt": 15.0, **nuisance})

    frame = pipeline.measure_frame(runtime, {"image": phantom.image}, None)

    assert frame.pop_detected is True
    assert feedback_for(frame.result_code, True, frame.quality)[0] == expected


def test_a_clean_photo_gives_no_feedback_when_measured(runtime):
    phantom = draw_pop(35, tilt=15, glare=0, blur=0.4, moire=False)

    frame = pipeline.measure_frame(runtime, {"image": phantom.image}, None)

    assert frame.measured
    assert feedback_for(frame.result_code, True, frame.quality) is None


def test_the_utility_operations_find_corners_and_rectify(runtime):
    phantom = draw_pop(36, "heldout")

    found = pipeline.measure(runtime, {"image": phantom.image, "operation": "preprocess"}, None)

    assert len(found["corners"]) == 4
    assert found["width"] > 0
    assert found["height"] > 0


def test_evaluate_models_pop_prints_both_families(runtime):
    out = StringIO()
    call_command("evaluate_models", "vhs", "--pop", "--n-per-class", "2", "--json", stdout=out)
    result = json.loads(out.getvalue())

    assert set(result["families"]) == {"train", "heldout"}
