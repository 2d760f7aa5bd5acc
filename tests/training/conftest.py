import pytest

from tests.conftest import person_image


@pytest.fixture
def train_dir(tmp_path):
    """Six people, two clean photos each, and a noisy FACECOM-style copy of each photo."""
    root = tmp_path / "train"
    for i in range(6):
        (root / f"p{i}" / "distortion").mkdir(parents=True)
        for j in range(2):
            person_image(i, noise=5, rng_seed=j).save(root / f"p{i}" / f"p{i}_000{j + 1}.png")
            person_image(i, noise=30, rng_seed=10 + j).save(root / f"p{i}" / "distortion" / f"p{i}_000{j + 1}_noisy.png")
    return root
