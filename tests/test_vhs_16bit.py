"""16-bit greyscale radiographs measure as their 8-bit originals (issue 20, item 7).

Radiographs are often stored with 12 to 16 bits a pixel.  The same phantom dog is uploaded
as an 8-bit PNG, as a 16-bit PNG (mode ``I;16``) spread over 0..65535, and as 12 bits held
in 16 (values 0..4095): each must be accepted as a radiograph and measured alike.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from accounts.models import ApiKey, Customer
from inference.imaging.grey import to_gray8
from inference.phantoms.vhs import draw_radiograph

pytestmark = pytest.mark.django_db

#: The same dog in two bit depths: the same VHS, to within this.
SAME_VHS = 0.2


def png(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def wide(image: Image.Image, top: int) -> Image.Image:
    """The 8-bit film rescaled to 0..``top`` and stored as a 16-bit grey PNG's pixels."""
    values = np.asarray(image, np.float64) * (top / 255.0)
    wide = Image.fromarray(np.round(values).astype("<u2"))
    assert wide.mode == "I;16"
    return wide


@pytest.fixture(scope="module")
def dog():
    return draw_radiograph(seed=4, vhs=11.2, vlas=2.0, crop=False)


@pytest.fixture
def api(client):
    raw = ApiKey.issue(Customer.objects.create(name="Vet practice"))[1]

    def post(image: Image.Image) -> dict:
        response = client.post(
            "/vhs/v3/predict",
            {"image": png(image)},
            content_type="application/json",
            headers={"x-api-key": raw},
        )
        assert response.status_code == 200, response.content
        return response.json()

    return post


def test_16_bit_and_12_bit_in_16_pngs_measure_as_the_8_bit_film(api, dog):
    eight = api(dog.image)
    assert eight["result_code"] in (1, 2, 3, 4)

    for top in (65535, 4095):
        image = wide(dog.image, top)
        encoded = Image.open(io.BytesIO(base64.b64decode(png(image))))
        assert encoded.mode == "I;16"
        assert encoded.getextrema()[1] > 255
        body = api(image)
        assert body["result_code"] in (1, 2, 3, 4), (top, body["result_code"])
        assert abs(body["vhs"] - eight["vhs"]) <= SAME_VHS, (top, body["vhs"], eight["vhs"])


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I", "F"])
@pytest.mark.parametrize("top", [65535, 4095])
def test_high_bit_depth_grey_is_windowed_to_the_8_bit_film(dog, mode, top):
    film = np.asarray(dog.image)
    values = np.round(film.astype(np.float64) * (top / 255.0))
    if mode == "F":
        image = Image.fromarray(values.astype(np.float32), "F")
    elif mode == "I":
        image = Image.fromarray(values.astype(np.int32), "I")
    else:  # built from bytes: Pillow's convert("I;16B") clips at 255
        order = ">u2" if mode == "I;16B" else "<u2"
        image = Image.frombytes(mode, dog.image.size, values.astype(order).tobytes())
    assert image.mode == mode

    gray = np.asarray(to_gray8(image), np.int16)

    low, high = int(film.min()), int(film.max())
    stretched = (film.astype(np.float64) - low) * (255.0 / (high - low))
    assert np.abs(gray - stretched).max() <= 1.0


@pytest.mark.parametrize("mode", ["L", "RGB", "LA", "P", "I;16", "I", "F", "RGBA", "1"])
def test_every_mode_becomes_8_bit_grey(mode):
    gray = to_gray8(Image.new(mode, (7, 5)))
    assert gray.mode == "L"
    assert gray.size == (7, 5)


def test_8_bit_grey_is_left_as_it_is(dog):
    assert to_gray8(dog.image) is dog.image


def test_a_flat_16_bit_image_is_black_not_a_division_by_zero():
    flat = Image.fromarray(np.full((4, 4), 1000, "<u2"))
    assert np.asarray(to_gray8(flat)).max() == 0
