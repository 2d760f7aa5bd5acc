import numpy as np
from PIL import Image

from facesearch.detect import ARCFACE_112, Aligner, center_crop, pick_face, similarity_transform, warp


def test_similarity_transform_recovers_known_transform():
    angle, scale, t = 0.3, 1.7, np.array([5.0, -3.0])
    r = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = ARCFACE_112 @ (scale * r).T + t
    m = similarity_transform(ARCFACE_112, dst)
    np.testing.assert_allclose(m[:, :2], scale * r, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)


def test_warp_moves_landmarks_onto_template():
    img = np.zeros((200, 200, 3), np.uint8)
    src = ARCFACE_112 * 1.5 + 20  # a "face" 1.5x bigger, shifted
    for x, y in src.astype(int):
        img[y - 1:y + 2, x - 1:x + 2] = 255
    m = similarity_transform(src, ARCFACE_112)
    out = warp(Image.fromarray(img), m, 112)
    for x, y in ARCFACE_112.round().astype(int):
        assert out[y - 1:y + 2, x - 1:x + 2].max() > 100


def test_pick_face_prefers_largest_then_central():
    boxes = np.array([[0, 0, 10, 10], [40, 40, 90, 90], [100, 100, 140, 140]], float)
    assert pick_face(boxes, 150, 150) == 1
    same = np.array([[0, 0, 30, 30], [60, 60, 90, 90]], float)
    assert pick_face(same, 150, 150) == 1


def test_center_crop_and_fallback_shapes():
    im = Image.new("RGB", (300, 200), (9, 9, 9))
    assert center_crop(im, 32).shape == (32, 32, 3)
    face = Aligner(32, detector="none").align([im])[0]
    assert not face.detected and face.crop.shape == (32, 32, 3) and face.box is None


def test_mtcnn_finds_no_face_in_noise_and_falls_back():
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 120, 3), dtype=np.uint8))
    faces = Aligner(112, detector="mtcnn").align([im, im.resize((100, 100))])
    assert [f.detected for f in faces] == [False, False]
    assert all(f.crop.shape == (112, 112, 3) for f in faces)


def test_crops_of_encoder_size_skip_detection():
    im = Image.fromarray(np.random.default_rng(1).integers(0, 255, (112, 112, 3), dtype=np.uint8))
    aligner = Aligner(112, detector="mtcnn")
    face = aligner.align([im])[0]
    assert face.detected and aligner._mtcnn is None  # MTCNN never loaded
    np.testing.assert_array_equal(face.crop, np.asarray(im))
