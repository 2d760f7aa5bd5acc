"""Writes that leave the vectors as they are (a rename, thresholds, index settings) still
take the database's writer lock: one writer at a time, whatever it changes. A rename while
`index` enrols that person's folder would otherwise split the person in two."""
from __future__ import annotations

import functools


def under_writer_lock(method):
    """Run a :class:`~.facade.Gallery` method holding its database's writer lock."""
    @functools.wraps(method)
    def run(gallery, *args, **kwargs):
        with gallery.sync.locked():
            return method(gallery, *args, **kwargs)

    return run
