"""The VHS page's own endpoints: the page and its phantom generator are for staff only, and
the generator draws what it is asked for or says why not."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from web.vhs import draw_samples

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("vet", is_staff=True))
    return client


def test_the_page_and_its_samples_are_for_staff_only(client):
    assert client.get("/try/vhs/").status_code == 302
    response = client.get("/try/vhs/sample")
    assert response.status_code == 403
    assert "Log in as staff" in response.json()["error"]


def test_the_page_loads_its_script_for_staff(staff):
    page = staff.get("/try/vhs/").content.decode()

    assert "web/vhs.js" in page
    assert 'id="overlay"' in page


def test_samples_are_phantoms_with_the_chosen_heart_size(staff):
    body = staff.get("/try/vhs/sample", {"vhs": "12.0", "vlas": "2.4", "seed": "3", "count": "2"})

    images = body.json()["images"]
    assert [i["truth"] for i in images] == [
        {"seed": 3, "vhs": 12.0, "vlas": 2.4},
        {"seed": 4, "vhs": 12.0, "vlas": 2.4},
    ]
    assert Image.open(io.BytesIO(base64.b64decode(images[0]["image"]))).format == "PNG"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"vhs": "30"}, "vhs must lie between 8 and 13.5"),
        ({"count": "11"}, "count must lie between 1 and 10"),
        ({"count": "1.5"}, "count must be a whole number"),
        ({"seed": "x"}, "seed must be a whole number"),
    ],
)
def test_a_sample_that_cannot_be_drawn_says_why(staff, params, message):
    response = staff.get("/try/vhs/sample", params)

    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_the_same_request_draws_the_same_pixels():
    first = draw_samples({"vhs": "11", "seed": "9"})
    assert first == draw_samples({"vhs": "11", "seed": "9"})
