"""The labelled-photo embedding cache (calibrate, eval): one entry per photo and encoder."""
from __future__ import annotations

import numpy as np

from facesearch.encoders import create_encoder
from facesearch.faces.pipeline import Embedder
from facesearch.gallery.embedding_cache import embed_cached


def test_flip_averaged_and_plain_vectors_of_one_network_are_cached_apart(enrolled, gallery_dir):
    """`reembed --no-flip --switch` keeps the checksum: a cached flip-averaged vector must not
    answer for the plain one (keyed like the library's tables, by vectors_key)."""
    photos = sorted(gallery_dir.glob("*/*.jpg"))
    flip, plain = create_encoder("fake"), create_encoder("fake", flip=False)
    assert flip.card.checksum == plain.card.checksum and flip.card.flip != plain.card.flip
    averaged, _ = embed_cached(enrolled.store, Embedder(flip, "none"), flip.card, photos)
    cached, _ = embed_cached(enrolled.store, Embedder(plain, "none"), plain.card, photos)
    for photo, r in zip(photos, Embedder(plain, "none").run(photos)):
        np.testing.assert_allclose(cached[photo][0], r.vector, atol=1e-6)
        assert not np.allclose(cached[photo][0], averaged[photo][0])
    again, _ = embed_cached(enrolled.store, Embedder(flip, "none"), flip.card, photos)
    for photo in photos:  # each kind found in the cache again
        np.testing.assert_array_equal(again[photo][0], averaged[photo][0])
