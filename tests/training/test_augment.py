import numpy as np
import pytest

from tests.conftest import person_image
from training.augment import DISTORTIONS, augment


@pytest.mark.parametrize("name", sorted(DISTORTIONS))
def test_distortions_keep_shape_and_range(name):
    img = np.asarray(person_image(3, size=48))
    out = DISTORTIONS[name](img, np.random.default_rng(0))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.array_equal(out, img)


def test_augment_is_reproducible():
    img = np.asarray(person_image(1, size=32))
    a = augment(img, np.random.default_rng(5))
    b = augment(img, np.random.default_rng(5))
    assert np.array_equal(a, b) and a.shape == img.shape


@pytest.mark.parametrize("name", sorted(DISTORTIONS))
@pytest.mark.parametrize("shape", [(17, 23), (112, 112), (60, 40)])
@pytest.mark.parametrize("frame", ["photo", "crop"])
def test_distortions_work_on_any_size_style_and_frame(name, shape, frame):
    img = np.asarray(person_image(2, size=max(shape)))[:shape[0], :shape[1]]
    for style in ("lfw", "frontal", None):
        out = DISTORTIONS[name](np.ascontiguousarray(img), np.random.default_rng(1), style=style, frame=frame)
        assert out.shape == img.shape and out.dtype == np.uint8


def test_glare_is_centred_on_the_photo_and_scaled_with_it():
    from training.augment import CROP_FRAMES, Frame, sunny

    grey = np.full((100, 100, 3), 60, np.uint8)
    whole = sunny(grey, None, style="lfw").astype(int)[..., 0]
    assert whole[50, 50] == 255 and whole[0, 0] == whole[99, 99] == whole[0, 99]  # symmetric about the centre
    assert 60 + 50 < whole[0, 0] < 60 + 65  # about +58 in the corners of the photo
    crop = sunny(grey, None, style="lfw", frame="crop").astype(int)[..., 0]
    assert CROP_FRAMES["lfw"].side > 1 and crop[0, 0] > whole[0, 0]  # a crop is inside the photo: brighter corners
    assert crop[99, 50] > crop[0, 50]  # the photo's centre is below the crop's (CROP_FRAMES cy > 0.5)
    half = sunny(grey, None, style="frontal", frame=Frame(2.0, 0.5, 0.5)).astype(int)[..., 0]
    assert half[50, 50] == 255 and half[0, 0] == 60  # the frontal blob ends within the photo
    assert half[50, 95] > half[95, 50]  # and is wider than tall


def test_fog_map_is_the_fitted_one():
    from training.augment import fog_map

    t = fog_map()
    assert t.shape == (32, 32) and 0 < t.min() < t.mean() < t.max() < 0.8
    assert abs(t.mean() - 0.51) < 0.03
