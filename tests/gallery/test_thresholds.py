"""Gallery.accept_rule and Gallery.verify_threshold: deprecated, and what they say agrees
with what query and compare decide."""
import pytest

from facesearch.gallery import Gallery
from facesearch.gallery.decision import decider_of
from facesearch.photos.scan import scan_gallery


@pytest.fixture
def gallery(db_path, gallery_dir, fake_encoder_obj):
    g = Gallery(db_path, encoder=fake_encoder_obj, detector="none")
    g.enroll(scan_gallery(gallery_dir))
    return g


def test_accept_rule_is_deprecated_and_is_the_deciding_rule(gallery, shipped_calibration_file):
    with pytest.warns(DeprecationWarning, match="identify"):
        rule = gallery.accept_rule()
    assert rule == decider_of(gallery).rule


def test_verify_threshold_is_deprecated_and_agrees_with_compare(gallery, shipped_calibration_file):
    with pytest.warns(DeprecationWarning, match="needed"):
        assert gallery.verify_threshold is None  # the shipped threshold depends on the two faces
    gallery.set_verify_threshold(1.2, {"cohort": True})  # refined in the shipped cohort's units
    with pytest.warns(DeprecationWarning):
        assert gallery.verify_threshold is None  # not a cosine score: compare turns it per pair
    gallery.set_verify_threshold(0.2, {})
    with pytest.warns(DeprecationWarning):
        assert gallery.verify_threshold == 0.2
