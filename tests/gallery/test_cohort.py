"""The impostor cohort: aggregates of at least ten people each, and its normalisation."""
import json

import numpy as np
import pytest

from facesearch.config import SHIPPED_CALIBRATION
from facesearch.gallery.cohort import MIN_IDENTITIES, Cohort, fit_cohort


def people(n_ids: int, photos: int = 4, dim: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_ids, dim))
    emb = np.repeat(centres, photos, axis=0) + 0.3 * rng.normal(size=(n_ids * photos, dim))
    return emb / np.linalg.norm(emb, axis=1, keepdims=True), np.repeat(np.arange(n_ids), photos)


def test_every_centroid_pools_at_least_ten_identities():
    emb, labels = people(60)
    cohort = fit_cohort(emb, labels, clusters=40, top_n=5)  # 40 clusters of 60 people: most too small
    assign = np.argmax(emb @ cohort.centroids.T, axis=1)
    assert (cohort.identities >= MIN_IDENTITIES).all()
    # the count is true: the photos nearest each centroid come from that many people or more
    assert all(len(np.unique(labels[assign == k])) >= MIN_IDENTITIES for k in range(len(cohort.centroids)))
    assert np.allclose(np.linalg.norm(cohort.centroids, axis=1), 1)


def test_a_cohort_of_few_people_is_refused():
    emb, labels = people(MIN_IDENTITIES - 1)
    with pytest.raises(ValueError, match="at least 10 identities"):
        fit_cohort(emb, labels, clusters=4, top_n=2)
    with pytest.raises(ValueError, match="at least 10 identities"):
        Cohort(np.eye(3, 16, dtype=np.float32), np.array([10, 10, 9]), 2)


def test_znorm_and_snorm_are_cohort_units():
    emb, labels = people(40)
    cohort = fit_cohort(emb, labels, clusters=4, top_n=2)
    a, b = emb[:3], emb[3:5]
    mu_a, sd_a = cohort.stats(a)
    s = a @ b.T
    assert np.allclose(cohort.znorm(s, a), (s - mu_a[:, None]) / sd_a[:, None])
    mu_b, sd_b = cohort.stats(b)
    assert np.allclose(cohort.snorm(s, a, b), 0.5 * ((s - mu_a[:, None]) / sd_a[:, None] + (s - mu_b) / sd_b))
    again = Cohort.from_dict(json.loads(json.dumps(cohort.as_dict())))
    assert np.allclose(again.znorm(s, a), cohort.znorm(s, a), atol=1e-4) and again.top_n == cohort.top_n


def test_shipped_cohorts_hold_no_one_person():
    if not SHIPPED_CALIBRATION.is_file():
        pytest.skip("no shipped calibration")
    for checksum, entry in json.loads(SHIPPED_CALIBRATION.read_text()).items():
        cohort = Cohort.from_dict(entry["cohort"])  # refuses a centroid of fewer than ten people
        assert len(cohort.centroids) >= cohort.top_n and min(entry["cohort"]["identities"]) >= MIN_IDENTITIES
