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
