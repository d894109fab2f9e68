"""The VHS page's geometry (web/static/web/vhs_geometry.js) agrees with the server's
(inference/products/vhs/geometry.py): node runs the JavaScript over the same random landmark
sets, image sizes and rounding ties, and every value must match."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from inference.products.vhs.geometry import LANDMARKS, measure

NODE = shutil.which("node")
SCRIPT = Path(__file__).resolve().parent.parent / "web" / "static" / "web" / "vhs_geometry.js"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def run_js(driver: str, payload: object) -> object:
    """``driver`` after the module's code, with ``INPUT`` the payload; prints JSON."""
    source = SCRIPT.read_text() + f"\nconst INPUT = {json.dumps(payload)};\n" + driver
    result = subprocess.run(
        [NODE, "--input-type=module", "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def random_cases(count: int, seed: int = 19) -> list[dict]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        points = {name: [rng.random(), rng.random()] for name in LANDMARKS}
        cases.append(
            {"points": points, "width": rng.randint(64, 4000), "height": rng.randint(64, 4000)}
        )
    return cases


def test_the_page_and_the_server_measure_random_landmarks_alike():
    cases = random_cases(2000)
    driver = (
        "const out = INPUT.map(c => { try { return measure(c.points, c.width, c.height); } "
        "catch (e) { return {error: e.message}; } });\nconsole.log(JSON.stringify(out));"
    )

    answers = run_js(driver, cases)

    for case, js in zip(cases, answers, strict=True):
        py = measure(
            {k: tuple(v) for k, v in case["points"].items()}, case["width"], case["height"]
        )
        assert js["vhs"] == py.vhs, case
        assert js["vlas"] == py.vlas, case
        assert abs(js["vhsRaw"] - (py.long_axis_vertebrae + py.short_axis_vertebrae)) < 1e-9
        assert abs(js["longAxisVertebrae"] - py.long_axis_vertebrae) < 1e-9
        assert abs(js["shortAxisVertebrae"] - py.short_axis_vertebrae) < 1e-9
        assert abs(js["vertebralUnitPx"] - py.vertebral_unit_px) < 1e-9
        assert abs(js["axesAngleDeg"] - py.axes_angle_deg) < 1e-9
        assert js["axesPerpendicular"] == py.axes_perpendicular


def test_coinciding_vertebrae_are_refused_by_both():
    points = {name: [0.3, 0.4] for name in LANDMARKS}

    answer = run_js(
        "try { measure(INPUT, 100, 100); console.log('null'); } "
        "catch (e) { console.log(JSON.stringify(e.message)); }",
        points,
    )

    with pytest.raises(ValueError, match="coincide") as raised:
        measure({k: tuple(v) for k, v in points.items()}, 100, 100)
    assert answer == str(raised.value)


def test_rounding_to_one_decimal_is_pythons_round_including_ties():
    rng = random.Random(7)
    values = [rng.uniform(0, 20) for _ in range(5000)]
    values += [k / 4 for k in range(0, 81)]  # exact ties: x.25 and x.75
    values += [k / 20 for k in range(0, 401)]  # x.x5 written in decimal, not exact in binary

    answers = run_js("console.log(JSON.stringify(INPUT.map(round1)));", values)

    assert answers == [round(value, 1) for value in values]
