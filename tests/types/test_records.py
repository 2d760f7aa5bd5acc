"""The results' JSON, defined once by the records: ``as_dict()`` (``--json``) writes the same
keys, in the same order, with the same values as the first releases' hand-written dicts,
and the server's faces are those records (with its photo ids)."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np

from facesearch.types import (AcceptRule, AlignedFace, AttributeLabel, FaceAnalysis, FaceMatch, FaceQuality, Match,
                              PhotoAnalysis, QueryResult)

FACE = AlignedFace(np.zeros((4, 4, 3), np.uint8), True, 2, (10.04, 20.26, 50.0, 60.55), np.float32(0.9876543),
                   quality=FaceQuality(0.912345, False, ["blurred"], {"sharpness": 1.0}))
CROP = AlignedFace(np.zeros((4, 4, 3), np.uint8), False)
ANN = Match("ann", np.float32(0.81234567), "/g/ann/1.jpg", photo_id=3)
BEN = Match("ben", 0.4, "/g/ben/1.jpg", probability=0.7123456)
GENDER = {"gender": AttributeLabel("female", 0.876543)}
RULE = AcceptRule(0.512345678, 0.1)
FACE_MATCH = FaceMatch(FACE, [ANN, BEN], False, GENDER, "shipped", "unusable face", RULE)

# as written by the dicts of facesearch/types.py before the records (same objects)
M_ANN = '{"identity": "ann", "score": 0.812346, "photo": "/g/ann/1.jpg"}'
M_BEN = '{"identity": "ben", "score": 0.4, "photo": "/g/ben/1.jpg", "probability": 0.712346}'
Q = '{"score": 0.9123, "usable": false, "reasons": ["blurred"]}'
G = '"gender": {"label": "female", "score": 0.8765}'
F = (f'{{"box": [10.0, 20.3, 50.0, 60.5], "det_score": 0.987654, "quality": {Q}, "matches": [{M_ANN}, {M_BEN}], '
     f'"accepted": false, "margin": 0.412346, {G}, "calibration": "shipped", "reason": "unusable face", '
     '"threshold": 0.512346}')
BEFORE = [
    (FACE_MATCH, F),
    (FaceMatch(CROP, [], None), '{"box": null, "det_score": null, "quality": null, "matches": [], "accepted": null, '
     '"margin": null, "calibration": null, "reason": null, "threshold": null}'),
    (QueryResult("q.jpg", [ANN, BEN], False, FACE, ["w"], [FACE_MATCH], GENDER, "shipped", "unusable face", RULE),
     f'{{"query": "q.jpg", "matches": [{M_ANN}, {M_BEN}], "accepted": false, "quality": {Q}, "margin": 0.412346, '
     f'"face_found": true, {G}, "calibration": "shipped", "reason": "unusable face", "threshold": 0.512346, '
     f'"faces": [{F}]}}'),
    (QueryResult("q.jpg", [ANN], True, CROP, calibration="user", rule=RULE),
     f'{{"query": "q.jpg", "matches": [{M_ANN}], "accepted": true, "quality": null, "margin": null, '
     '"face_found": false, "calibration": "user", "reason": null, "threshold": 0.512346}'),
    (QueryResult("q.jpg"), '{"query": "q.jpg", "matches": [], "accepted": null, "quality": null, "margin": null, '
     '"face_found": null, "calibration": null, "reason": null, "threshold": null}'),
    (PhotoAnalysis("p.jpg", [FaceAnalysis(FACE, GENDER), FaceAnalysis(CROP)], 1),
     f'{{"photo": "p.jpg", "faces": [{{"box": [10.0, 20.3, 50.0, 60.5], "det_score": 0.987654, "quality": {Q}, '
     f'{G}}}, {{"box": null, "det_score": null, "quality": null}}], "main": 1, "faces_found": 1}}'),
]


def test_as_dict_is_what_the_first_releases_wrote():
    for result, before in BEFORE:
        assert json.dumps(result.as_dict()) == before, type(result).__name__


def test_a_compare_verdict_keeps_its_keys():
    from facesearch.gallery.decision import Verdict

    v = Verdict(0.71234567, True, 0.5, "user", (True, False))
    assert json.dumps(v.as_dict()) == ('{"score": 0.712346, "same": true, "threshold": 0.5, "calibration": "user", '
                                       '"face_found": {"a": true, "b": false}}')
    assert Verdict(0.2).as_dict() == {"score": 0.2, "same": None, "threshold": None, "calibration": None,
                                      "face_found": {"a": True, "b": True}}


def test_an_attribute_of_another_name_is_written_under_it():
    face = FaceMatch(FACE, [], None, {"age": AttributeLabel("adult", 0.6)})
    assert face.as_dict()["age"] == {"label": "adult", "score": 0.6}


def test_the_server_answers_the_same_record_with_its_photo_ids():
    from facesearch.serve.photos import face_record

    face = replace(FACE_MATCH, matches=FACE_MATCH.matches[:1])  # the gallery cuts matches to the request's k
    cli = face.as_dict()
    served = face_record(face, expose=False).as_dict()
    assert list(served) == list(cli)
    assert served["matches"] == [{"identity": "ann", "score": 0.812346, "photo": "1.jpg", "photo_id": 3,
                                  "photo_url": "/v1/photos/3"}]


def test_types_load_without_pydantic():
    """A command that writes no JSON does not pay for pydantic (issue 26's cold query)."""
    code = "import sys, facesearch.types; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
