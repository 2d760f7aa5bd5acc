import numpy as np
import pytest
from PIL import Image

from facesearch.faces.detect import ARCFACE_112, Aligner, center_crop, pick_face, similarity_transform, warp
from tests.test_facecom import FACECOM


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


def cartoon_face(size=120):
    from PIL import ImageDraw

    im = Image.new("RGB", (size, size), (90, 120, 160))
    d = ImageDraw.Draw(im)
    d.ellipse((25, 15, 95, 110), fill=(225, 185, 150))
    d.ellipse((40, 45, 54, 53), fill=(40, 30, 30))
    d.ellipse((66, 45, 80, 53), fill=(40, 30, 30))
    d.polygon([(60, 58), (54, 75), (66, 75)], fill=(200, 150, 120))
    d.ellipse((47, 84, 73, 92), fill=(150, 60, 60))
    return im


def test_vendored_mtcnn_matches_facenet_pytorch():
    """Same boxes, scores and landmarks as facenet-pytorch's MTCNN (low thresholds so that
    a cartoon face is found), batch of a face and a face-less image."""
    from facenet_pytorch import MTCNN as Reference

    from facesearch.faces.mtcnn import MTCNN

    images = [cartoon_face(), Image.new("RGB", (120, 120), (30, 30, 30))]
    ours = MTCNN(thresholds=(0.2, 0.2, 0.2)).detect(images)
    ref_boxes, ref_probs, ref_points = Reference(keep_all=True, thresholds=[0.2, 0.2, 0.2]).detect(
        images, landmarks=True)
    assert ours[0][0] is not None and ours[1][0] is None and ref_boxes[1] is None
    np.testing.assert_allclose(ours[0][0], np.asarray(ref_boxes[0], float), atol=1e-3)
    np.testing.assert_allclose(ours[0][1], np.asarray(ref_probs[0], float), atol=1e-5)
    np.testing.assert_allclose(ours[0][2], np.asarray(ref_points[0], float), atol=1e-3)


def test_detection_needs_neither_torch_nor_torchvision():
    """MTCNN runs its shipped ONNX graphs: nothing of PyTorch is imported."""
    import subprocess
    import sys

    code = ("import sys; from PIL import Image; from facesearch.faces.detect import Aligner; "
            "Aligner(112).align([Image.new('RGB', (80, 80))]); print('torch' in sys.modules or 'torchvision' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


class StubDetector:
    """MTCNN's interface, answering fixed faces: (boxes, probs, landmarks) per image."""

    def __init__(self, boxes, probs):
        self.boxes, self.probs = np.array(boxes, float), np.array(probs, float)

    def detect(self, images):
        points = np.stack([ARCFACE_112 / 112 * (b[2] - b[0]) + b[:2] for b in self.boxes])
        return [(self.boxes, self.probs, points) for _ in images]


def stub_aligner(boxes, probs):
    aligner = Aligner(32, detector="mtcnn")
    aligner._mtcnn = StubDetector(boxes, probs)
    return aligner


def test_align_all_orders_faces_left_to_right_and_marks_the_main_one():
    im = Image.fromarray(np.random.default_rng(2).integers(0, 255, (200, 300, 3), dtype=np.uint8))
    #        right, big            left, small          middle, too unsure
    boxes = [[180, 40, 280, 140], [10, 60, 60, 110], [120, 60, 160, 100]]
    aligner = stub_aligner(boxes, [0.99, 0.95, 0.5])
    (faces, main), = aligner.align_all([im])
    assert [f.box[0] for f in faces] == [10, 180]  # the unsure one is dropped, the rest left to right
    assert main == 1 and faces[main].score == 0.99 and all(f.n_faces == 2 for f in faces)
    single = aligner.align([im])[0]  # align picks the same face, with the same crop
    assert single.box == faces[main].box
    np.testing.assert_array_equal(single.crop, faces[main].crop)
    assert not np.array_equal(faces[0].crop, faces[1].crop)


def test_align_all_without_a_face_gives_the_fallback_alone():
    im = Image.new("RGB", (120, 90), (40, 40, 40))
    (faces, main), = stub_aligner([[0, 0, 10, 10]], [0.2]).align_all([im])
    assert main == 0 and len(faces) == 1 and not faces[0].detected
    (faces, main), = Aligner(32, detector="none").align_all([im])
    assert main == 0 and len(faces) == 1 and faces[0].box is None


def test_mtcnn_crops_equal_area_interpolation():
    """The crops (four look-ups per pixel in the images' summed-area tables) give
    interpolate(mode='area')'s pixels, for boxes of any size, clipped at the image's edges."""
    import torch
    from torch.nn.functional import interpolate

    from facesearch.faces.mtcnn import _crops, _integral

    pixels = np.random.default_rng(0).integers(0, 256, (2, 90, 120, 3)).astype(np.uint8)
    imgs = pixels.transpose(0, 3, 1, 2).astype(np.float32)
    boxes = np.array([[10.7, 5.2, 70.9, 80.1], [-8.0, -3.0, 30.0, 40.0], [100.0, 60.0, 140.0, 99.0],
                      [20.0, 20.0, 31.0, 25.0]], np.float32)
    inds = np.array([0, 1, 1, 0])
    ours, kept, kept_inds = _crops(_integral(pixels), boxes, inds, 24)
    np.testing.assert_array_equal(kept, boxes)
    np.testing.assert_array_equal(kept_inds, inds)
    for k, (x1, y1, x2, y2) in enumerate(np.trunc(boxes).astype(int)):
        x, y, ex, ey = max(x1, 1), max(y1, 1), min(x2, 120), min(y2, 90)
        ref = interpolate(torch.from_numpy(imgs[inds[k], :, y - 1:ey, x - 1:ex]).unsqueeze(0), size=(24, 24), mode="area")
        np.testing.assert_allclose(ours[k], ((ref[0] - 127.5) * 0.0078125).numpy(), atol=1e-5)


def test_mtcnn_pyramid_equals_area_interpolation():
    """Every pyramid level, pooled from the summed-area tables, has interpolate(mode='area')'s
    pixels; a large image needs 64-bit sums."""
    import torch
    from torch.nn.functional import interpolate

    from facesearch.faces.mtcnn import _integral, _pyramid

    for shape, sizes in (((2, 101, 77, 3), [(31, 24), (22, 17), (13, 10)]),
                         ((1, 520, 530, 3), [(157, 160), (111, 113)]),
                         ((1, 3000, 3000, 3), [(40, 40)])):  # 255 x 3000^2 does not fit in int32
        pixels = np.random.default_rng(1).integers(0, 256, shape).astype(np.uint8)
        if shape[1] == 3000:
            pixels[:] = 255
        imgs = torch.from_numpy(pixels.transpose(0, 3, 1, 2).astype(np.float32))
        for level, size in zip(_pyramid(_integral(pixels), sizes), sizes):
            ref = (interpolate(imgs, size=size, mode="area") - 127.5) * 0.0078125
            np.testing.assert_allclose(level, ref.numpy(), atol=1e-5)


def test_mtcnn_crops_leave_out_boxes_outside_the_image():
    from facesearch.faces.mtcnn import _crops, _integral

    table = _integral(np.zeros((2, 40, 40, 3), np.uint8))
    boxes = np.array([[50.0, 50.0, 70.0, 70.0], [5.0, 5.0, 30.0, 30.0]], np.float32)
    crops, kept, inds = _crops(table, boxes, np.array([0, 1]), 24)
    assert crops.shape == (1, 3, 24, 24) and np.array_equal(kept, boxes[1:]) and inds.tolist() == [1]
    crops, kept, inds = _crops(table, boxes[:1], np.array([0]), 24)
    assert crops.shape == (0, 3, 24, 24) and len(kept) == 0 and len(inds) == 0


def test_mtcnn_nets_export_prelu_as_max_min_with_the_same_outputs():
    """ONNX Runtime's PRelu is slow: the export spells it max(x, 0) + a * min(x, 0), exactly."""
    import onnx
    import onnxruntime as ort

    torch = pytest.importorskip("torch")
    from facesearch.config import MTCNN_GRAPHS
    from facesearch.encoders.torch_net import export_onnx
    from training.mtcnn_nets import load

    net = load("onet")
    data = export_onnx(net.eval(), torch.zeros(2, 3, 48, 48), (0,), 3)
    for graph in (onnx.load_from_string(data), *map(onnx.load, map(str, MTCNN_GRAPHS.values()))):
        assert "PRelu" not in {n.op_type for n in graph.graph.node}
    x = torch.from_numpy(np.random.default_rng(3).standard_normal((5, 3, 48, 48)).astype(np.float32))
    got = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})
    with torch.inference_mode():
        want = net(x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), atol=1e-5)


@pytest.mark.parametrize("size", [(30, 30), (10, 500), (39, 39)])
def test_mtcnn_finds_no_face_in_an_image_smaller_than_the_smallest_face(size):
    """Issue 23 row 17: no pyramid level fits, which was 'need at least one array to concatenate'."""
    from facesearch.config import MIN_FACE_SIZE
    from facesearch.faces.mtcnn import MTCNN

    im = Image.new("RGB", size, (120, 100, 90))
    assert MTCNN(min_face_size=MIN_FACE_SIZE).detect([im, im]) == [(None, None, None)] * 2
    aligner = Aligner(112)
    assert "image too small to find a face in" in aligner.too_small(im)
    assert aligner.too_small(Image.new("RGB", (40, 40))) is None and Aligner(112, "none").too_small(im) is None
    assert not aligner.align([im])[0].detected


def test_faces_found_on_a_smaller_copy_are_reported_in_the_photos_pixels(tmp_path):
    """Issue 23 row 23: boxes and landmarks of a photo over 1,024 px, scaled back and clipped."""
    from facesearch.photos.images import load_rgb

    large_photo = Image.new("RGB", (2280, 1588), (90, 90, 90))
    large_photo.save(tmp_path / "large.png")
    im = load_rgb(tmp_path / "large.png")
    assert im.size == (1024, 713)
    #        inside               past the right and bottom edges of the copy
    boxes = [[100, 50, 300, 250], [900, 600, 1100, 800]]
    (faces, _), = stub_aligner(boxes, [0.99, 0.99]).align_all([im])
    sx, sy = 2280 / 1024, 1588 / 713
    np.testing.assert_allclose(faces[0].box, [100 * sx, 50 * sy, 300 * sx, 250 * sy])
    np.testing.assert_allclose(faces[1].box, [900 * sx, 600 * sy, 2280, 1588])  # clipped to the photo
    np.testing.assert_allclose(faces[0].landmarks[0], (ARCFACE_112[0] / 112 * 200 + [100, 50]) * [sx, sy])
    assert faces[0].scale == pytest.approx(2.227, abs=1e-3)


FACECOM_PHOTO = FACECOM / "train" / "001_frontal" / "001_frontal.jpg"


@pytest.mark.slow  # a FACECOM photo through the real detector
@pytest.mark.skipif(not FACECOM_PHOTO.is_file(), reason="FACECOM data set not present")
def test_a_real_face_has_the_same_box_in_a_photo_enlarged_past_the_detection_size(tmp_path):
    """The real detector on a FACECOM photo and on the same photo 2280 px wide: same box, scaled."""
    from facesearch.encoders import create_encoder
    from facesearch.faces.pipeline import Embedder

    small = Image.open(FACECOM_PHOTO).convert("RGB")
    factor = 2280 / small.width
    small.resize((2280, round(small.height * factor)), Image.BICUBIC).save(tmp_path / "large.jpg", quality=95)
    embedder = Embedder(create_encoder("fake"))
    a, b = embedder.run([FACECOM_PHOTO, tmp_path / "large.jpg"])
    assert a.face.detected and b.face.detected
    side = (a.face.box[2] - a.face.box[0]) * factor
    np.testing.assert_allclose(b.face.box, np.array(a.face.box) * factor, atol=0.04 * side)
