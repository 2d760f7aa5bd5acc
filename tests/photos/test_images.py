import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from facesearch.errors import ImageError
from facesearch.files import sha256_file
from facesearch.photos.images import load_rgb


def test_rgb_modes_convert(tmp_path):
    for mode, color in [("L", 128), ("RGBA", (10, 20, 30, 0)), ("CMYK", (0, 0, 0, 0)), ("P", 3)]:
        p = tmp_path / f"x_{mode}.{'jpg' if mode == 'CMYK' else 'png'}"
        Image.new(mode, (40, 30), color).save(p)
        im = load_rgb(p)
        assert im.mode == "RGB" and im.size == (40, 30)
    # fully transparent RGBA composites onto white
    assert load_rgb(tmp_path / "x_RGBA.png").getpixel((0, 0)) == (255, 255, 255)


def test_16bit_png_is_rescaled_not_clipped(tmp_path):
    p = tmp_path / "deep.png"
    Image.fromarray(np.full((20, 20), 32768, np.uint16)).save(p)
    assert 120 <= load_rgb(p).getpixel((0, 0))[0] <= 135


def test_exif_rotation_is_applied(tmp_path):
    p = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    Image.new("RGB", (60, 20), (200, 0, 0)).save(p, exif=exif)
    assert load_rgb(p).size == (20, 60)


@pytest.mark.parametrize("content,reason", [(b"", "empty"), (b"hello, not an image", "not an image"),
                                            (None, "no such file")])
def test_bad_files_raise_image_error(tmp_path, content, reason):
    p = tmp_path / "bad.jpg"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(ImageError, match=reason):
        load_rgb(p)


def test_truncated_jpeg(tmp_path):
    p = tmp_path / "t.jpg"
    Image.new("RGB", (200, 200), (1, 2, 3)).save(p, quality=90)
    p.write_bytes(p.read_bytes()[:300])
    with pytest.raises(ImageError, match="decode"):
        load_rgb(p)


def test_directory_and_tiny_images(tmp_path):
    with pytest.raises(ImageError, match="directory"):
        load_rgb(tmp_path)
    p = tmp_path / "one.png"
    Image.new("RGB", (1, 1)).save(p)
    with pytest.raises(ImageError, match="too small"):
        load_rgb(p)


def test_decompression_bomb_is_an_error(tmp_path, monkeypatch):
    p = tmp_path / "big.png"
    Image.new("L", (400, 400)).save(p)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100)
    with pytest.raises(ImageError, match="too large"):
        load_rgb(p)


def test_large_images_are_downscaled(tmp_path):
    p = tmp_path / "large.jpg"
    Image.new("RGB", (3000, 1500)).save(p)
    assert max(load_rgb(p, max_side=512).size) == 512


def flat_png(width: int, height: int, bits: int = 16) -> bytes:
    """A grey PNG of one flat colour, written row by row: a few hundred KB for 81 MP."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row = zlib.compressobj(9), b"\x00" + b"\x80" * (width * bits // 8)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bits, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def test_a_small_file_that_decodes_to_a_huge_image_is_refused_from_its_header(tmp_path):
    """A 9000 x 9000 16-bit PNG (under Pillow's bomb limit) took 2.2 GB and 7-15 s."""
    p = tmp_path / "deep.png"
    p.write_bytes(flat_png(9000, 9000))
    assert p.stat().st_size < 1 << 20 and 9000 * 9000 < Image.MAX_IMAGE_PIXELS
    start = time.monotonic()
    with pytest.raises(ImageError, match=r"too large to decode: 9000x9000 px \(81.0 MP\).*26.2 MP"):
        load_rgb(p)
    assert time.monotonic() - start < 1  # refused from the header, nothing decoded


def test_within_the_decode_budget_images_are_decoded(tmp_path):
    p = tmp_path / "ok.png"
    p.write_bytes(flat_png(5000, 5000))  # 25 MP: a large camera photo
    im = load_rgb(p)
    assert im.size == (1024, 1024) and 126 <= im.getpixel((5, 5))[0] <= 129  # 0x8080 / 257 = 128
    # a JPEG is reduced while it is decoded: even 30000 x 1100 (33 MP, a panorama) is cheap
    wide = tmp_path / "wide.jpg"
    Image.new("RGB", (30000, 1100), (90, 120, 150)).save(wide, quality=50)
    assert load_rgb(wide).size == (1024, 38)


def test_sha256(tmp_path):
    p = tmp_path / "a"
    p.write_bytes(b"abc")
    assert sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_a_downscaled_copy_remembers_the_photos_upright_size(tmp_path):
    """Issue 23 row 23: faces are reported in the photo's pixels, so the copy keeps its size
    (before JPEG draft decoding, after EXIF rotation)."""
    from facesearch.photos.images import from_pil, original_size

    Image.new("RGB", (3000, 1500)).save(tmp_path / "large.jpg")
    im = load_rgb(tmp_path / "large.jpg", max_side=512)
    assert im.size == (512, 256) and original_size(im) == (3000, 1500)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    Image.new("RGB", (3000, 1500)).save(tmp_path / "rot.jpg", exif=exif)
    im = load_rgb(tmp_path / "rot.jpg", max_side=512)
    assert im.size == (256, 512) and original_size(im) == (1500, 3000)
    small = load_rgb(tmp_path / "large.jpg", max_side=4000)
    assert original_size(small) == small.size == (3000, 1500)
    assert original_size(from_pil(Image.new("RGB", (1920, 1080)))) == (1920, 1080)
