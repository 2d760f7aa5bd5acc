import numpy as np

from facesearch.faces.quality import LIMITS, assess, measure
from facesearch.types import AlignedFace


def face(crop, **kw):
    return AlignedFace(crop.astype(np.uint8), detected=kw.pop("detected", True), **kw)


def test_ordinary_face_is_usable():
    crop = np.random.default_rng(0).integers(40, 200, (112, 112, 3))
    q = assess(face(crop, box=(0, 0, 80, 90), score=0.99))
    assert q.usable and q.reasons == [] and 0 < q.score <= 1
    assert set(q.as_dict()) == {"score", "usable", "reasons"}


def test_washed_out_and_black_faces_are_unusable_with_reasons():
    crop = np.full((112, 112, 3), 120)
    crop[30:100, 20:92] = 255  # glare over the inner face
    q = assess(face(crop))
    assert not q.usable and q.score == 0 and "washed out" in q.reasons[0]
    q = assess(face(np.zeros((112, 112, 3))))
    assert not q.usable and "too dark" in q.reasons[0]


def test_tiny_and_turned_faces():
    crop = np.full((112, 112, 3), 128)
    assert "too small" in assess(face(crop, box=(0, 0, 10, 12))).reasons[0]
    profile = np.array([[40, 50], [60, 50], [75, 70], [42, 90], [58, 90]], float)  # nose past the right eye
    m = measure(face(crop, box=(0, 0, 80, 80), landmarks=profile))
    assert m["yaw"] > LIMITS.max_yaw and "turned away" in assess(face(crop, landmarks=profile)).reasons[0]
    frontal = np.array([[40, 50], [72, 50], [56, 70], [44, 90], [68, 90]], float)
    assert abs(measure(face(crop, landmarks=frontal))["yaw"]) < 0.05
