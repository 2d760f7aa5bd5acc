"""Every route of `facesearch serve` and each error status, against a real uvicorn server."""
from __future__ import annotations

import io
import time

import pytest
import requests
from PIL import Image

from tests.conftest import person_image
from tests.serve.conftest import query_photo


def post_image(url, path, **params):
    with open(path, "rb") as f:
        return requests.post(url, files={"image": (path.name, f, "image/png")}, params=params, timeout=60)


def png(seed: int, noise: float = 0, rng_seed: int = 0) -> bytes:
    buf = io.BytesIO()
    person_image(seed, noise=noise, rng_seed=rng_seed).save(buf, "PNG")
    return buf.getvalue()


def assert_error(r, status, code):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert body["error"]["message"] and "Traceback" not in r.text
    assert body["error"]["request_id"] == r.headers["X-Request-ID"]


def test_health(served):
    server, _ = served
    r = requests.get(server.url + "/v1/health", timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["identities"] >= 3 and body["photos"] >= 6
    assert body["encoder"]["arch"] == "fake" and body["encoder"]["embedding_dim"] == 16
    assert body["detector"] == "none"


def test_search_names_the_person_with_the_documented_shape(served):
    server, tmp = served
    r = post_image(server.url + "/v1/search", query_photo(tmp, 1), k=2)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"faces", "processing_ms", "warnings"} and body["processing_ms"] > 0
    (face,) = body["faces"]
    assert set(face) == {"box", "det_score", "quality", "matches", "accepted", "margin", "calibration",
                         "reason", "threshold"}
    assert [m["identity"] for m in face["matches"]][0] == "bob" and len(face["matches"]) == 2
    assert set(face["matches"][0]) == {"identity", "score", "photo", "photo_id", "photo_url"}
    assert face["accepted"] is None  # no threshold calibrated
    assert face["margin"] == round(face["matches"][0]["score"] - face["matches"][1]["score"], 6)
    # all_faces with --detector none: the one face, the same answer
    r2 = post_image(server.url + "/v1/search", query_photo(tmp, 1), k=2, all_faces="true")
    assert r2.json()["faces"] == body["faces"]


def test_search_with_attributes_adds_gender_per_face(served):
    server, tmp = served
    r = post_image(server.url + "/v1/search", query_photo(tmp, 1), k=1, attributes="true")
    assert r.status_code == 200, r.text
    (face,) = r.json()["faces"]
    assert face["matches"][0]["identity"] == "bob"
    assert face["gender"]["label"] in ("female", "male") and 0.5 <= face["gender"]["score"] <= 1


def test_search_threshold_per_request(served):
    server, tmp = served
    r = post_image(server.url + "/v1/search", query_photo(tmp, 0), threshold=0.5)
    assert r.json()["faces"][0]["accepted"] is True
    r = post_image(server.url + "/v1/search", query_photo(tmp, 0), threshold=0.99999)
    assert r.json()["faces"][0]["accepted"] is False


def test_request_ids(served):
    server, tmp = served
    r = requests.get(server.url + "/v1/people", headers={"X-Request-ID": "client-42"}, timeout=30)
    assert r.headers["X-Request-ID"] == "client-42"
    r = requests.get(server.url + "/v1/people", headers={"X-Request-ID": "bad id\twith tab"}, timeout=30)
    assert r.headers["X-Request-ID"] != "bad id\twith tab" and len(r.headers["X-Request-ID"]) == 32
    r2 = requests.get(server.url + "/v1/people", timeout=30)
    assert r2.headers["X-Request-ID"] not in (r.headers["X-Request-ID"], "client-42")


def test_bad_requests(served):
    server, tmp = served
    url = server.url + "/v1/search"
    assert_error(requests.post(url, files={"image": ("notes.txt", b"not a photo")}, timeout=30), 422, "invalid_image")
    assert_error(requests.post(url, files={"image": ("empty.jpg", b"")}, timeout=30), 422, "invalid_image")
    assert_error(requests.post(url, files={"photo": ("a.png", png(0))}, timeout=30), 400, "bad_request")
    assert_error(requests.post(url, timeout=30), 400, "bad_request")
    assert_error(requests.post(url, files={"image": ("a.png", png(0))}, params={"k": "0"}, timeout=30),
                 400, "bad_request")
    assert_error(requests.post(url, files={"image": ("a.png", png(0))}, params={"k": "x"}, timeout=30),
                 400, "bad_request")
    assert_error(requests.get(url, timeout=30), 405, "method_not_allowed")
    assert_error(requests.get(server.url + "/v1/nothing-here", timeout=30), 404, "not_found")


def test_compare(served):
    server, tmp = served
    same = requests.post(server.url + "/v1/compare", timeout=30,
                         files={"image_a": ("a.png", png(2)), "image_b": ("b.png", png(2, 8, 3))}).json()
    other = requests.post(server.url + "/v1/compare", timeout=30,
                          files={"image_a": ("a.png", png(2)), "image_b": ("b.png", png(0))}).json()
    assert set(same) == {"score", "same", "face_found", "threshold", "calibration"} and same["same"] is None
    assert same["calibration"] is None  # the fake model ships no calibration
    assert same["score"] > 0.9 > other["score"]
    r = requests.post(server.url + "/v1/compare", files={"image_a": ("a.png", png(2)), "image_b": ("b", b"xx")},
                      timeout=30)
    assert_error(r, 422, "invalid_image")
    assert "b:" in r.json()["error"]["message"]


def test_enrol_list_search_rename_and_delete(served):
    server, tmp = served
    url = server.url + "/v1"
    dave = [png(11), png(11, 6, 1)]
    r = requests.post(url + "/people/dave/photos", files=[("image", ("d1.png", dave[0])), ("image", ("d2.png", dave[1]))],
                      timeout=60)
    assert r.status_code == 201, r.text
    added = r.json()
    assert added["identity"] == "dave" and len(added["added"]) == 2 and added["existing"] == []
    assert {"identity": "dave", "photos": 2} in requests.get(url + "/people", timeout=30).json()["people"]
    hit = requests.post(url + "/search", files={"image": ("q.png", png(11, 8, 9))}, timeout=30).json()
    assert hit["faces"][0]["matches"][0]["identity"] == "dave"
    assert hit["faces"][0]["matches"][0]["photo"].startswith("upload:")
    # the same bytes again: nothing new; under another name: a conflict, nothing written
    again = requests.post(url + "/people/dave/photos", files={"image": ("d1.png", dave[0])}, timeout=30).json()
    assert again["added"] == [] and again["existing"] == [added["added"][0]]
    assert_error(requests.post(url + "/people/erin/photos", files={"image": ("d1.png", dave[0])}, timeout=30),
                 409, "conflict")
    assert_error(requests.post(url + "/people/erin/photos", timeout=30,
                               files=[("image", ("e.png", png(12))), ("image", ("bad.jpg", b"\xff\xd8junk"))]),
                 422, "invalid_image")
    names = [p["identity"] for p in requests.get(url + "/people", timeout=30).json()["people"]]
    assert "erin" not in names  # all or nothing
    # photos, one deleted
    photos = requests.get(url + "/people/dave/photos", timeout=30).json()
    assert [p["id"] for p in photos["photos"]] == added["added"]
    assert requests.delete(url + f"/photos/{added['added'][0]}", timeout=30).status_code == 204
    assert_error(requests.delete(url + f"/photos/{added['added'][0]}", timeout=30), 404, "not_found")
    assert_error(requests.delete(url + "/photos/abc", timeout=30), 400, "bad_request")
    # rename: taken name, unknown name, empty name
    assert_error(requests.patch(url + "/people/dave", json={"name": "alice"}, timeout=30), 409, "conflict")
    assert_error(requests.patch(url + "/people/nobody", json={"name": "x"}, timeout=30), 404, "not_found")
    assert_error(requests.patch(url + "/people/dave", json={"name": "  "}, timeout=30), 400, "refused")
    assert_error(requests.patch(url + "/people/dave", json={}, timeout=30), 400, "bad_request")
    r = requests.patch(url + "/people/dave", json={"name": "David Ø"}, timeout=30)
    assert r.status_code == 200 and r.json() == {"identity": "David Ø", "previous": "dave"}
    hit = requests.post(url + "/search", files={"image": ("q.png", png(11, 8, 9))}, timeout=30).json()
    assert hit["faces"][0]["matches"][0]["identity"] == "David Ø"
    # delete the person: gone from people and from search
    assert requests.delete(url + "/people/David%20%C3%98", timeout=30).status_code == 204
    assert_error(requests.delete(url + "/people/David%20%C3%98", timeout=30), 404, "not_found")
    assert_error(requests.get(url + "/people/David%20%C3%98/photos", timeout=30), 404, "not_found")
    hit = requests.post(url + "/search", files={"image": ("q.png", png(11, 8, 9))}, timeout=30).json()
    assert all(m["identity"] != "David Ø" for m in hit["faces"][0]["matches"])


def test_deleting_the_last_photo_removes_the_person(served):
    server, tmp = served
    url = server.url + "/v1"
    r = requests.post(url + "/people/frank/photos", files={"image": ("f.png", png(21))}, timeout=30)
    (pid,) = r.json()["added"]
    assert requests.delete(url + f"/photos/{pid}", timeout=30).status_code == 204
    assert "frank" not in [p["identity"] for p in requests.get(url + "/people", timeout=30).json()["people"]]


def test_enrol_quality_gate(served):
    server, tmp = served
    url = server.url + "/v1"
    white = io.BytesIO()
    Image.new("RGB", (64, 64), (255, 255, 255)).save(white, "JPEG")
    r = requests.post(url + "/people/ghost/photos", files={"image": ("white.jpg", white.getvalue())},
                      params={"quality_gate": "skip"}, timeout=30)
    assert r.status_code == 201 and r.json()["added"] == [] and r.json()["unusable"][0]["photo"] == "white.jpg"
    assert_error(requests.post(url + "/people/ghost/photos", files={"image": ("w.jpg", white.getvalue())},
                               params={"quality_gate": "maybe"}, timeout=30), 400, "bad_request")


def test_openapi_docs_and_page(served):
    server, _ = served
    spec = requests.get(server.url + "/openapi.json", timeout=30).json()
    routes = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert routes >= {("/v1/health", "get"), ("/v1/search", "post"), ("/v1/compare", "post"), ("/v1/people", "get"),
                      ("/v1/people/{identity}/photos", "post"), ("/v1/people/{identity}/photos", "get"),
                      ("/v1/people/{identity}", "patch"), ("/v1/people/{identity}", "delete"),
                      ("/v1/photos/{photo_id}", "delete"), ("/v1/photos/{photo_id}", "get")}
    search = spec["paths"]["/v1/search"]["post"]
    assert {"200", "400", "413", "422"} <= set(search["responses"])
    assert "Error" in spec["components"]["schemas"]
    assert requests.get(server.url + "/docs", timeout=30).status_code == 200
    page = requests.get(server.url + "/", timeout=30)
    assert page.status_code == 200 and "facesearch" in page.text and "/static/app.js" in page.text
    assert requests.get(server.url + "/static/app.js", timeout=30).status_code == 200


def test_results_name_photos_by_id_not_by_server_path(served):
    server, tmp = served
    r = post_image(server.url + "/v1/search", query_photo(tmp, 1), k=3)
    for m in r.json()["faces"][0]["matches"]:
        assert "/" not in m["photo"] and str(tmp) not in r.text, r.text
        assert m["photo"] in (f"{m['identity']}_1.png", f"{m['identity']}_2.png")
        assert m["photo_url"] == f"/v1/photos/{m['photo_id']}"
        photo = requests.get(server.url + m["photo_url"], timeout=30)
        assert photo.status_code == 200, photo.text
        assert photo.json()["identity"] == m["identity"] and photo.json()["id"] == m["photo_id"]
        assert photo.json()["path"] == m["photo"] and photo.json()["url"] == m["photo_url"]
    listed = requests.get(server.url + "/v1/people/bob/photos", timeout=30)
    assert str(tmp) not in listed.text
    assert sorted(p["path"] for p in listed.json()["photos"]) == ["bob_1.png", "bob_2.png"]


@pytest.mark.slow  # a real server
def test_expose_paths_shows_stored_paths(tmp_path):
    from tests.serve.conftest import serve_gallery

    server = serve_gallery(tmp_path, "--expose-paths")
    try:
        r = post_image(server.url + "/v1/search", query_photo(tmp_path, 0), k=1)
        (match,) = r.json()["faces"][0]["matches"]
        assert match["photo"] == str(tmp_path / "gallery" / "alice" / "alice_1.png") and match["photo_id"] >= 1
        photos = requests.get(server.url + "/v1/people/alice/photos", timeout=30).json()["photos"]
        assert str(tmp_path) in photos[0]["path"]
    finally:
        server.stop()


def test_photo_ids_out_of_range_are_not_found(served):
    server, _ = served
    for pid in ("99999999999999999999", "9223372036854775808", "2147483648", "0", "-1", "-99999999999999999999"):
        assert_error(requests.delete(server.url + f"/v1/photos/{pid}", timeout=30), 404, "not_found")
        assert_error(requests.get(server.url + f"/v1/photos/{pid}", timeout=30), 404, "not_found")
    assert_error(requests.get(server.url + "/v1/photos/2147483647", timeout=30), 404, "not_found")
    assert_error(requests.get(server.url + "/v1/photos/1.5", timeout=30), 400, "bad_request")


def test_file_names_and_identities_with_control_characters_are_refused(served):
    server, _ = served
    url = server.url + "/v1"
    for name in ("a\x00b.png", "tab\tname.png", "x" * 300 + ".png"):
        r = requests.post(url + "/people/nul/photos", files={"image": (name, png(41))}, timeout=30)
        assert_error(r, 400, "refused")
        assert_error(requests.post(url + "/search", files={"image": (name, png(41))}, timeout=30), 400, "refused")
    for path in ("/people/a%00b/photos", "/people/a%01b"):
        assert_error(requests.get(url + path, timeout=30) if path.endswith("photos")
                     else requests.delete(url + path, timeout=30), 400, "refused")
    assert "nul" not in [p["identity"] for p in requests.get(url + "/people", timeout=30).json()["people"]]


def test_an_image_too_large_to_decode_cheaply_is_refused(served):
    from tests.photos.test_images import flat_png

    server, _ = served
    start = time.monotonic()
    r = requests.post(server.url + "/v1/search", files={"image": ("deep.png", flat_png(9000, 9000))}, timeout=60)
    assert_error(r, 422, "invalid_image")
    assert "too large to decode" in r.json()["error"]["message"] and time.monotonic() - start < 5
