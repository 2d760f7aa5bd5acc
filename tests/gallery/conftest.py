import pytest


@pytest.fixture
def enrolled(db_path, gallery_dir, fake_encoder_obj):
    """A gallery of ``gallery_dir`` (three people) enrolled with the fake encoder."""
    from facesearch.gallery import Gallery
    from facesearch.photos.scan import scan_gallery

    g = Gallery(db_path, encoder=fake_encoder_obj, detector="none")
    g.enroll(scan_gallery(gallery_dir))
    return g
