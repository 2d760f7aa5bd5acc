"""Decisions for the faces of one photo: corrections veto a name, and an assignment keeps
two faces from being accepted as the same person."""
import numpy as np

from facesearch.gallery.assignment import decide, vetoed
from facesearch.gallery.decision import USER, Decider
from facesearch.types import AcceptRule, Match


def m(*pairs):
    return [Match(name, score, f"{name}.jpg") for name, score in pairs]


def unit(*v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


RULE = AcceptRule(0.5)
DECIDES = Decider(RULE, USER)  # cosine rule, no cohort


def test_two_faces_never_get_the_same_identity():
    pairs = [(None, unit(1, 0)), (None, unit(0, 1))]
    answers = decide(pairs, [m(("ann", 0.9), ("bea", 0.6)), m(("ann", 0.7), ("bea", 0.65))], DECIDES, 5)
    assert [(a.matches[0].identity, a.accepted) for a in answers] == [("ann", True), ("bea", True)]


def test_the_loser_without_another_acceptable_identity_is_not_accepted():
    pairs = [(None, unit(1, 0)), (None, unit(0, 1))]
    answers = decide(pairs, [m(("ann", 0.9), ("bea", 0.3)), m(("ann", 0.7), ("bea", 0.2))], DECIDES, 5)
    assert [a.accepted for a in answers] == [True, False]
    assert answers[1].matches[0].identity == "ann"  # its matches are unchanged


def test_assignment_maximises_the_total_not_each_face_greedily():
    # greedy (face 0 first) would give ann to face 0 and leave face 1 nothing acceptable
    pairs = [(None, unit(1, 0)), (None, unit(0, 1))]
    answers = decide(pairs, [m(("ann", 0.80), ("bea", 0.78)), m(("ann", 0.81), ("cat", 0.1))], DECIDES, 5)
    assert [(a.matches[0].identity, a.accepted) for a in answers] == [("bea", True), ("ann", True)]


def test_without_a_rule_nothing_is_decided():
    answers = decide([(None, unit(1, 0))], [m(("ann", 0.9))], None, 5)
    assert answers[0].accepted is None


def test_a_correction_vetoes_only_faces_closer_to_it_than_to_the_person():
    negatives = {"ann": np.stack([unit(1, 0)])}
    near_stranger, near_ann = unit(1, 0.1), unit(0.2, 1)
    assert vetoed(near_stranger, Match("ann", 0.7, "a.jpg"), negatives, RULE)  # 0.995 > 0.7
    assert not vetoed(near_ann, Match("ann", 0.9, "a.jpg"), negatives, RULE)  # 0.196 < floor
    assert not vetoed(near_stranger, Match("bea", 0.7, "b.jpg"), negatives, RULE)  # another person
    answers = decide([(None, near_stranger)], [m(("ann", 0.7))], DECIDES, 5, negatives)
    assert answers[0].accepted is False
