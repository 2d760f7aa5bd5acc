from facesearch.photos.scan import expand_paths, scan_gallery


def test_scan_layouts(gallery_dir):
    clean = scan_gallery(gallery_dir)
    assert len(clean) == 6 and {n for n, _ in clean} == {"alice", "bob", "carol"}
    assert len(scan_gallery(gallery_dir, include_distorted=True)) == 9
    assert len(expand_paths([gallery_dir])[0]) == 9


def unreadable(monkeypatch, *folders):
    """Listing ``folders`` fails with PermissionError, as for a user without the read bit
    (tests run as root here, and root reads every folder)."""
    import errno
    import os

    refused = {str(f) for f in folders}
    for name in ("listdir", "scandir"):  # what pathlib and os.walk list folders with
        real = getattr(os, name)

        def listing(path=".", real=real):
            if os.fspath(path) in refused:
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real(path)

        monkeypatch.setattr(os, name, listing)


def test_a_folder_that_cannot_be_read_is_an_error_never_empty(gallery_dir, monkeypatch):
    """Issue 23 row 6: a person folder that could not be listed was walked as empty."""
    from facesearch.photos.scan import walk_gallery

    unreadable(monkeypatch, gallery_dir / "bob", gallery_dir / "carol" / "distortion")
    scan = walk_gallery(gallery_dir, include_distorted=True)
    assert scan.unreadable == [gallery_dir / "bob", gallery_dir / "carol" / "distortion"]
    assert [e.path for e in scan.errors] == [str(gallery_dir / "bob"), str(gallery_dir / "carol" / "distortion")]
    assert "cannot read this folder (Permission denied)" in scan.errors[0].reason
    assert scan.empty_folders == [] and {n for n, _ in scan.items} == {"alice", "carol"}
    paths, errors = expand_paths([gallery_dir])
    assert [e.path for e in errors] == [str(gallery_dir / "bob"), str(gallery_dir / "carol" / "distortion")]
    assert len(paths) == 5


def test_the_gallery_folder_itself_unreadable(gallery_dir, monkeypatch):
    from facesearch.photos.scan import walk_gallery

    unreadable(monkeypatch, gallery_dir)
    scan = walk_gallery(gallery_dir)
    assert scan.items == [] and scan.unreadable == [gallery_dir] and len(scan.errors) == 1


def test_an_unreadable_distortion_folder_matters_only_when_it_is_enrolled(gallery_dir, monkeypatch):
    from facesearch.photos.scan import walk_gallery

    unreadable(monkeypatch, gallery_dir / "carol" / "distortion")
    scan = walk_gallery(gallery_dir)
    assert scan.errors == [] and scan.unreadable == [] and scan.distorted_skipped == 2 and len(scan.items) == 6


def test_a_link_that_cannot_be_followed_is_an_error_and_kept(gallery_dir, tmp_path, monkeypatch):
    """A photo or person folder linked into a place this user may not enter: stat() fails
    with PermissionError (which pathlib's is_dir()/exists() raise): one error each, no traceback."""
    import errno
    import os

    from facesearch.photos.scan import walk_gallery

    (gallery_dir / "dave").symlink_to(tmp_path / "elsewhere")
    (gallery_dir / "bob" / "linked.jpg").symlink_to(tmp_path / "elsewhere.jpg")
    refused, real = {str(gallery_dir / "dave"), str(gallery_dir / "bob" / "linked.jpg")}, os.stat

    def stat(path, *args, follow_symlinks=True, **kwargs):
        if follow_symlinks and os.fspath(path) in refused:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path, *args, follow_symlinks=follow_symlinks, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    scan = walk_gallery(gallery_dir)
    assert sorted(map(str, scan.unreadable)) == sorted(refused) and len(scan.errors) == 2
    assert all("cannot read it (Permission denied)" in e.reason for e in scan.errors)
    assert len(scan.items) == 6 and not scan.ignored
