"""The naming strategies: how many identities each needs, and the classifier's ranking
carrying each identity's best photo and cosine score."""
import numpy as np

from facesearch.gallery.decision import Decider
from facesearch.gallery.naming import NearestNeighbour, SupportVectors
from facesearch.types import AcceptRule, Match


def nearest(vectors, k):
    row = [Match("ann", 0.9, "ann.jpg", photo_id=1), Match("ben", 0.7, "ben.jpg", photo_id=2),
           Match("cat", 0.1, "cat.jpg", photo_id=3)]
    return [row[:k] for _ in vectors]


class Ranked:
    class model:
        classes_ = np.array(["ann", "ben", "cat"])

    def top(self, vectors, k):
        return [[("ben", 0.6), ("ann", 0.3), ("cat", 0.1)][:k] for _ in vectors]


def test_a_margin_needs_the_runner_up_searched():
    assert NearestNeighbour(nearest, Decider(AcceptRule(0.5, 0.1), "user")).fetch(1) == 2
    assert NearestNeighbour(nearest, Decider(AcceptRule(0.5), "user")).fetch(1) == 1
    assert NearestNeighbour(nearest, None).fetch(3) == 3


def test_the_classifier_orders_and_each_identity_keeps_its_best_photo():
    svc = SupportVectors(nearest, Decider(AcceptRule(0.5), "user"), {}, Ranked())
    [row] = svc.rank(np.zeros((1, 4), np.float32), 2)
    assert row == [Match("ben", 0.7, "ben.jpg", 0.6, 2), Match("ann", 0.9, "ann.jpg", 0.3, 1)]
    assert svc.rank(np.zeros((0, 4), np.float32), 2) == []
