"""The PCA + SVC identity classifier: ranking and the fingerprint that makes it stale."""
import numpy as np
import pytest

from facesearch.errors import GalleryError
from facesearch.gallery.classifier import fingerprint, fit_vectors, rank


def clusters(n_classes, per_class=4, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim))
    x = np.concatenate([c + 0.05 * rng.normal(size=(per_class, dim)) for c in centres])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), [f"p{i}" for i in range(n_classes) for _ in range(per_class)]


@pytest.mark.parametrize("n_classes", [2, 5])
def test_rank_puts_the_svc_prediction_first_with_probabilities(n_classes):
    x, y = clusters(n_classes)
    model = fit_vectors(x, y, components=8, c=10)
    ranked = rank(model, x, 2)
    assert [r[0][0] for r in ranked] == list(model.predict(x)) == y
    assert all(len(r) == 2 and all(0 <= p <= 1 for _, p in r) for r in ranked)


def test_one_identity_is_refused():
    x, y = clusters(1)
    with pytest.raises(GalleryError, match="at least two identities"):
        fit_vectors(x, y)


def test_fingerprint_changes_with_ids_names_vectors_and_encoder():
    x, y = clusters(2)
    ids = np.arange(len(x))
    base = fingerprint(ids, y, x, "enc")
    assert base == fingerprint(ids.copy(), list(y), x.copy(), "enc")
    assert base != fingerprint(ids + 1, y, x, "enc")
    assert base != fingerprint(ids, y[:-1] + ["other"], x, "enc")
    assert base != fingerprint(ids, y, x[::-1], "enc")
    assert base != fingerprint(ids, y, x, "enc2")


def test_identify_reads_and_checks_the_classifier_once_per_gallery_state(enrolled, gallery_dir, monkeypatch):
    from facesearch.gallery import classifier

    g = enrolled
    classifier.fit_gallery(g)
    checks = []
    state = classifier._gallery_state
    monkeypatch.setattr(classifier, "_gallery_state", lambda gallery: checks.append(1) or state(gallery))
    q = [gallery_dir / "bob" / "bob_0002.png"]
    assert g.identify(q, decider="svc")[0].matches[0].identity == "bob"
    assert g.identify(q, decider="svc")[0].matches[0].identity == "bob"
    assert len(checks) == 1  # every stored embedding read and hashed once, not per query
    g.rename("bob", "robert")  # no new generation, but the names changed: checked again, stale
    with pytest.raises(GalleryError, match="stale"):
        g.identify(q, decider="svc")
    classifier.fit_gallery(g)  # a new file: read again
    assert g.identify(q, decider="svc")[0].matches[0].identity == "robert"
