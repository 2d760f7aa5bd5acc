"""Gallery.accept_rule and Gallery.verify_threshold: deprecated, and what they say agrees
with what query and compare decide."""
import pytest

from facesearch.gallery.decision import decider_of


def test_accept_rule_is_deprecated_and_is_the_deciding_rule(enrolled, shipped_calibration_file):
    with pytest.warns(DeprecationWarning, match="identify"):
        rule = enrolled.accept_rule()
    assert rule == decider_of(enrolled).rule


def test_verify_threshold_is_deprecated_and_agrees_with_compare(enrolled, shipped_calibration_file):
    with pytest.warns(DeprecationWarning, match="needed"):
        assert enrolled.verify_threshold is None  # the shipped threshold depends on the two faces
    enrolled.set_verify_threshold(1.2, {"cohort": True})  # refined in the shipped cohort's units
    with pytest.warns(DeprecationWarning):
        assert enrolled.verify_threshold is None  # not a cosine score: compare turns it per pair
    enrolled.set_verify_threshold(0.2, {})
    with pytest.warns(DeprecationWarning):
        assert enrolled.verify_threshold == 0.2
