"""Corner crops for the PoP corner network: every corner seen as a top-left one."""

import numpy as np

from inference.phantoms.pop import draw_pop
from inference.products.vhs.pop.crops import (
    CROP_SIZE,
    corner_crops,
    from_crop,
    half_side,
    to_crop,
)


def test_a_position_maps_into_its_crop_and_back():
    centres = np.array([[100.0, 80.0], [400.0, 90.0], [390.0, 300.0], [110.0, 310.0]])
    points = centres + np.array([[5.0, -3.0], [-7.0, 2.0], [4.0, 6.0], [-2.0, -9.0]])

    inside = to_crop(points, centres, 40.0)

    assert np.allclose(from_crop(inside, centres, 40.0), points)
    assert np.allclose(to_crop(centres, centres, 40.0), 0.5)


def test_every_corner_crop_shows_the_screen_towards_its_lower_right():
    """A bright square on black: each of its corners, cropped and flipped, is bright only in
    the crop's lower-right quadrant."""
    image = np.zeros((300, 400, 3), np.uint8)
    image[100:200, 120:300] = 255
    corners = np.array([[120.0, 100.0], [300.0, 100.0], [300.0, 200.0], [120.0, 200.0]])

    crops = corner_crops(image, corners, half_side(400, 300))

    assert crops.shape == (4, CROP_SIZE, CROP_SIZE, 3)
    middle = CROP_SIZE // 2
    for crop in crops.astype(float):
        assert crop[middle + 4 :, middle + 4 :].mean() > 250
        assert crop[: middle - 4].mean() < 5
        assert crop[:, : middle - 4].mean() < 5


def test_glare_does_not_blur_the_photo():
    """The glare's spread once reused the shrink factor's name, blurring every glare photo by
    a sigma of the screen's size."""
    plain = draw_pop(9, tilt=10, glare=0.0, moire=False, blur=0.5)
    glared = draw_pop(9, tilt=10, glare=0.6, moire=False, blur=0.5)

    def sharpness(phantom):
        gray = np.asarray(phantom.image.convert("L"), float)
        return np.abs(np.diff(gray, axis=1)).mean()

    assert sharpness(glared) > 0.7 * sharpness(plain)
