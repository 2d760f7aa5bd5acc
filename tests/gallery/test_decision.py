"""What decides: the shipped calibration (cohort units) turned into each face's cosine rule,
the user's calibration before it, --threshold before both, and the reasons given."""
import numpy as np

from facesearch.gallery.cohort import Cohort
from facesearch.gallery.decision import (AMBIGUOUS, LOW_SCORE, UNUSABLE, Decider, Verifier, decider_of,
                                         shipped_calibration, verdict, verifier_of, why_unknown)
from facesearch.types import AcceptRule, AlignedFace, FaceQuality, Match


def unit(x):
    x = np.asarray(x, np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def cohort(dim=16, seed=0) -> Cohort:
    return Cohort(unit(np.random.default_rng(seed).normal(size=(6, dim))), np.full(6, 12), 3)


def test_a_face_rule_is_the_cohort_rule_in_cosine_scores():
    c = cohort()
    rng = np.random.default_rng(1)
    d = Decider(AcceptRule(1.2, 0.4), "shipped", c)
    for _ in range(200):
        v = unit(rng.normal(size=16))
        best, second = sorted(rng.uniform(-0.2, 0.9, 2), reverse=True)
        z_best, z_second = c.znorm(np.array([[best, second]]), v)[0]
        want = z_best >= 1.2 and z_best - z_second >= 0.4
        assert d.rule_for(v).accepts([Match("a", best, ""), Match("b", second, "")], None) == want


def test_a_pair_threshold_is_the_s_norm_threshold_in_cosine_scores():
    c = cohort()
    rng = np.random.default_rng(2)
    v = Verifier(0.8, "shipped", c)
    for _ in range(200):
        a, b = unit(rng.normal(size=16)), unit(rng.normal(size=16))
        s = float(a @ b)
        assert (s >= v.threshold_for(a, b)) == (c.snorm(np.array([[s]]), a, b)[0, 0] >= 0.8)
        assert verdict(a, b, v).same == (c.snorm(np.array([[s]]), a, b)[0, 0] >= 0.8)
    assert verdict(a, b, None).same is None and verdict(a, b, None).calibration is None


def test_shipped_calibration_applies_to_its_model_only(shipped_calibration_file, fake_encoder_obj):
    from dataclasses import replace

    card = fake_encoder_obj.card
    cal = shipped_calibration(card)
    assert cal is not None and cal.verification == 1.0
    assert cal.rule(1) == (1, AcceptRule(2.0)) and cal.rule(2) == (10, AcceptRule(1.5, 0.5))
    assert cal.rule(500) == (10, AcceptRule(1.5, 0.5))  # past the table: the largest
    assert shipped_calibration(replace(card, checksum="other")) is None
    assert shipped_calibration(replace(card, flip=not card.flip)) is None


def test_what_decides_in_order(shipped_calibration_file, gallery_dir, db_path, fake_encoder_obj):
    from facesearch.gallery import Gallery
    from facesearch.photos.scan import scan_gallery

    g = Gallery(db_path, encoder=fake_encoder_obj, detector="none")
    g.enroll(scan_gallery(gallery_dir))
    d = decider_of(g)
    assert d.source == "shipped" and d.gallery_size == 10 and d.rule == AcceptRule(1.5, 0.5)  # 3 people
    assert decider_of(g, threshold=0.3) == Decider(AcceptRule(0.3), "threshold")
    assert decider_of(g, decider="svc").rule == AcceptRule(1.5)  # the margin belongs to nearest neighbour
    assert verifier_of(g.meta, g.encoder.card).source == "shipped"
    (r,) = g.identify([gallery_dir / "bob" / "bob_0001.jpg"])
    assert r.calibration == "shipped" and r.accepted is not None and r.as_dict()["calibration"] == "shipped"
    g.set_threshold(0.1, {"margin": 0.0})
    g.set_verify_threshold(0.2, {})
    assert decider_of(g).source == "user" and decider_of(g).cohort is None
    assert verifier_of(g.meta, g.encoder.card) == Verifier(0.2, "user")
    (r,) = g.identify([gallery_dir / "bob" / "bob_0001.jpg"])
    assert r.calibration == "user" and r.accepted and r.reason is None


def test_an_uncalibrated_model_decides_nothing(gallery_dir, db_path, fake_encoder_obj):
    from facesearch.gallery import Gallery
    from facesearch.photos.scan import scan_gallery

    g = Gallery(db_path, encoder=fake_encoder_obj, detector="none")
    g.enroll(scan_gallery(gallery_dir))
    (r,) = g.identify([gallery_dir / "bob" / "bob_0001.jpg"])
    assert r.accepted is None and r.calibration is None and r.reason is None
    v = g.verify(gallery_dir / "bob" / "bob_0001.jpg", gallery_dir / "alice" / "alice_0001.jpg")
    assert v.same is None and v.as_dict()["calibration"] is None


def test_unknown_in_one_phrase():
    good = AlignedFace(np.zeros((2, 2, 3), np.uint8), True, quality=FaceQuality(0.9, True))
    bad = AlignedFace(np.zeros((2, 2, 3), np.uint8), True, quality=FaceQuality(0.1, False, ["too dark"]))
    rule = AcceptRule(0.5, 0.2)
    assert why_unknown([Match("a", 0.4, "")], good, rule) == LOW_SCORE
    assert why_unknown([Match("a", 0.6, ""), Match("b", 0.5, "")], good, rule) == AMBIGUOUS
    assert why_unknown([Match("a", 0.9, "")], bad, rule) == UNUSABLE
    assert why_unknown([Match("a", 0.9, ""), Match("b", 0.1, "")], good, rule) is None


def test_the_shipped_model_ships_its_calibration():
    """A new default model needs `python -m training.ship_calibration` run for it (and the file committed)."""
    from facesearch.encoders import create_encoder

    cal = shipped_calibration(create_encoder("default").card)
    assert cal is not None, "facesearch/weights/calibration.json has no entry for the shipped model's checksum"
    sizes = [n for n, _ in cal.rules]
    assert sizes == sorted(sizes) and {1, 2, 10} <= set(sizes) and np.isfinite(cal.verification)
    assert cal.rules[0][1].margin is None  # a gallery of one has no runner-up
    assert "never val" in cal.info["data"]
