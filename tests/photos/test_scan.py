from facesearch.photos.scan import expand_paths, scan_gallery


def test_scan_layouts(gallery_dir):
    clean = scan_gallery(gallery_dir)
    assert len(clean) == 6 and {n for n, _ in clean} == {"alice", "bob", "carol"}
    assert len(scan_gallery(gallery_dir, include_distorted=True)) == 9
    assert len(expand_paths([gallery_dir])[0]) == 9
