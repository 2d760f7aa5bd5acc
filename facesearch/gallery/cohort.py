"""Score normalisation against an impostor cohort that ships with a model.

A raw cosine score means different things for different faces: impostors of a face that
resembles many people (a crowded part of the embedding space: one sex, one age, one photo
domain) score higher than impostors of an unusual face, so one global floor over-accepts
the first. Adaptive normalisation (Z/S-norm with top-N cohort statistics, as in speaker and
face verification) measures, for each face, how high *strangers* score against it: the
mean and spread of its N best scores against a cohort of other people, and expresses a
score in those units:

    z(s; x) = (s - mean_N(x)) / std_N(x)          query side (identification, ``query``)
    snorm(s; a, b) = (z(s; a) + z(s; b)) / 2      both sides (verification, ``compare``)

With ``scale`` set, std_N(x) is that one constant (shift normalisation: only the mean
moves per face). The shipped cohort uses it: with a few dozen centroids a face's own
spread is noise, and margins over the runner-up divided by it meant little (chosen on
training identities, galleries of 10 named 46% of their people, against 89% with the
shift), while the shift alone evened the groups as well. The query-side form keeps the ranking of a query's matches (one monotone
map per query), so only the decision changes.

The cohort is shipped, so it holds no one's template: its members are k-means centroids of
training photos' embeddings, each pooling the photos of at least :data:`MIN_IDENTITIES`
distinct people (clusters with fewer are dissolved into their neighbours), never a
person's own vector.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_IDENTITIES = 10  # a shipped centroid pools at least this many people (data README)
MIN_STD = 1e-3  # a cohort spread below this is noise: no division by ~0


@dataclass(frozen=True)
class Cohort:
    """``centroids`` (K x D, unit rows), how many distinct identities each pools, and
    ``top_n``: how many of a face's best cohort scores its statistics use."""

    centroids: np.ndarray
    identities: np.ndarray
    top_n: int
    scale: float | None = None  # set: every face's spread is this constant (shift normalisation)

    def __post_init__(self):
        if len(self.centroids) != len(self.identities) or not 1 <= self.top_n <= len(self.centroids):
            raise ValueError(f"a cohort of {len(self.centroids)} centroids cannot use its top {self.top_n}")
        if (np.asarray(self.identities) < MIN_IDENTITIES).any():
            raise ValueError(f"every cohort centroid must pool at least {MIN_IDENTITIES} identities "
                             f"(smallest: {int(np.min(self.identities))})")

    def stats(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and spread (std, at least :data:`MIN_STD`) of each row's ``top_n`` best
        cohort scores."""
        c = np.asarray(emb, np.float32).reshape(-1, self.centroids.shape[1]) @ self.centroids.T
        top = -np.partition(-c, self.top_n - 1, axis=1)[:, :self.top_n]
        spread = np.full(len(top), self.scale) if self.scale is not None else top.std(axis=1)
        return top.mean(axis=1), np.maximum(spread, MIN_STD)

    def znorm(self, scores: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """Query-side normalisation of ``scores`` (Q x anything) of ``queries`` (Q x D)."""
        mu, sd = self.stats(queries)
        return (np.asarray(scores, np.float64) - mu[:, None]) / sd[:, None]

    def snorm(self, scores: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Symmetric normalisation of ``scores`` (A x B) between ``a`` (A x D) and ``b`` (B x D)."""
        mu_a, sd_a = self.stats(a)
        mu_b, sd_b = self.stats(b)
        s = np.asarray(scores, np.float64)
        return 0.5 * ((s - mu_a[:, None]) / sd_a[:, None] + (s - mu_b[None, :]) / sd_b[None, :])

    def as_dict(self) -> dict:
        return {"top_n": int(self.top_n), "scale": self.scale, "identities": [int(n) for n in self.identities],
                "centroids": [[round(float(v), 6) for v in row] for row in self.centroids]}

    @classmethod
    def from_dict(cls, d: dict) -> "Cohort":
        return cls(_unit(np.array(d["centroids"], np.float32)), np.array(d["identities"], np.int64), int(d["top_n"]),
                   d.get("scale"))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def fit_cohort(emb: np.ndarray, labels: np.ndarray, clusters: int, top_n: int, seed: int = 0,
               shift: bool = False) -> Cohort:
    """k-means (``clusters`` to start with) over photo embeddings ``emb`` of people
    ``labels``; a cluster whose photos come from fewer than :data:`MIN_IDENTITIES` people is
    dissolved into the nearest others until none is left, so no centroid stands for a few
    people. ``top_n`` is capped at the number of centroids left. ``shift``: one spread for
    every face, the spread of the cohort photos' own cohort means (a population constant)."""
    from sklearn.cluster import KMeans

    emb, labels = _unit(np.asarray(emb, np.float32)), np.asarray(labels)
    if len(np.unique(labels)) < MIN_IDENTITIES:
        raise ValueError(f"a cohort needs photos of at least {MIN_IDENTITIES} identities")
    centres = _unit(KMeans(min(clusters, len(emb)), n_init=3, random_state=seed).fit(emb).cluster_centers_)
    for _ in range(100):  # Lloyd steps, dissolving the smallest cluster of too few people first
        assign = np.argmax(emb @ centres.T, axis=1)
        people = np.array([len(np.unique(labels[assign == k])) for k in range(len(centres))])
        if people.min() < MIN_IDENTITIES:
            centres = np.delete(centres, int(np.argmin(people)), axis=0)
            continue
        means = _unit(np.stack([emb[assign == k].mean(axis=0) for k in range(len(centres))]))
        done = np.array_equal(np.argmax(emb @ means.T, axis=1), assign)
        centres = means
        if done:
            break
    # each centroid is the mean of exactly the photos of the ``people`` counted for it
    cohort = Cohort(centres, people, min(top_n, len(centres)))
    if not shift:
        return cohort
    return Cohort(centres, people, cohort.top_n, float(max(cohort.stats(emb)[0].std(), MIN_STD)))
