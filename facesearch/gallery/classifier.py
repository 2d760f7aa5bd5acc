"""An identity classifier on the gallery's embeddings: PCA + SVC with probability outputs
(scikit-learn), fitted by ``facesearch classifier fit`` and used by ``query --decider svc``.

It lives in a file beside the database (``x.db`` -> ``x.svc``, see
:func:`~facesearch.config.classifier_path_for`): a magic line, a JSON header, then the
fitted PCA and SVC as data: their scalar settings in the header, their arrays in an ``.npz``
read with ``allow_pickle=False``. Loading it runs no code (it never unpickles: a server
database's classifier sits in a cache folder named by an id read from that database). The
header carries the database's id and a fingerprint of what it was fitted on (photo ids,
their identities, their vectors, the encoder), so a classifier fitted before the gallery
changed (photos added, removed, replaced, renamed) is refused with the reason instead of
naming people from an old gallery.
"""
from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..config import CLASSIFIER_C, CLASSIFIER_COMPONENTS, CLASSIFIER_KERNEL, classifier_path_for, index_cache_dir
from ..errors import GalleryError
from ..files import NotFramed, read_framed, write_framed

MAGIC = b"FACESEARCH-SVC 2\n"
PICKLED = b"FACESEARCH-SVC 1\n"  # written before issue 23: a pickle, never loaded


def make_pipeline(n_samples: int, dim: int, components: int = CLASSIFIER_COMPONENTS, c: float = CLASSIFIER_C,
                  kernel: str = CLASSIFIER_KERNEL):
    """PCA (at most ``components`` dims; not whitened: on 100 training identities, clean
    gallery, the best whitened setting named 0.893 right against 0.959 unwhitened) then an
    SVC with Platt-scaled probabilities."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    dims = max(1, min(components, dim, n_samples - 1))
    return Pipeline([("pca", PCA(n_components=dims, random_state=0)),
                     ("svc", SVC(C=c, kernel=kernel, probability=True, random_state=0))])


def fit_vectors(vectors: np.ndarray, labels: list[str], components: int = CLASSIFIER_COMPONENTS,
                c: float = CLASSIFIER_C, kernel: str = CLASSIFIER_KERNEL):
    """The fitted pipeline (shared by the CLI and benchmarks/classifier_compare.py)."""
    if len(set(labels)) < 2:
        raise GalleryError("the classifier needs at least two identities in the gallery")
    model = make_pipeline(len(vectors), vectors.shape[1], components, c, kernel)
    with warnings.catch_warnings():
        # scikit-learn 1.9 deprecates SVC(probability=True) (removal planned for 1.11); its
        # replacement, CalibratedClassifierCV, needs several photos of every identity, which
        # galleries of one photo a person do not have. Many classes of few samples is the
        # normal case here, not a regression problem.
        warnings.filterwarnings("ignore", message=".*probability.*deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message="The number of unique classes", category=UserWarning)
        return model.fit(vectors, np.asarray(labels))


def fingerprint(ids: np.ndarray, names: list[str], vectors: np.ndarray, checksum: str) -> str:
    """What a classifier was fitted on, in one hash: any photo added, removed, replaced or
    renamed changes it."""
    h = hashlib.sha256(checksum.encode())
    h.update(np.ascontiguousarray(ids, np.int64).tobytes())
    h.update("\0".join(names).encode("utf-8", "surrogateescape"))
    h.update(np.ascontiguousarray(vectors, np.float32).tobytes())
    return h.hexdigest()


def _gallery_state(gallery) -> tuple[np.ndarray, list[str], np.ndarray, str]:
    meta = gallery._require_meta()
    ids, vectors = gallery.store.embeddings(meta.card.embedding_dim)
    info = gallery.store.photo_info(ids.tolist())
    keep = np.array([int(i) in info for i in ids], bool)
    ids, vectors = ids[keep], vectors[keep]
    names = [info[int(i)][0] for i in ids]
    return ids, names, vectors, fingerprint(ids, names, vectors, meta.card.checksum)


@dataclass
class Classifier:
    model: object  # the scikit-learn pipeline
    header: dict

    def top(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """The ``k`` identities the SVC ranks first for each vector, with their probabilities."""
        return rank(self.model, vectors, k)


def rank(model, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
    """Identities ordered by the SVC's decision (its one-vs-one votes: the first is what it
    predicts), each with its Platt probability. Ordering by the probabilities instead named
    the right person far less often when identities have one or two photos (0.27 against 0.96
    top-1 on training identities), since they are fitted by cross-validation within them."""
    decision, proba = model.decision_function(vectors), model.predict_proba(vectors)
    if decision.ndim == 1:  # two identities: one signed distance, positive for classes_[1]
        decision = np.stack([-decision, decision], axis=1)
    order = np.argsort(-decision, axis=1, kind="stable")[:, :k]
    return [[(str(model.classes_[j]), float(p[j])) for j in idx] for p, idx in zip(proba, order)]


def classifier_path(gallery) -> Path:
    """Beside a database file (``x.db`` -> ``x.svc``); for a server database, in this
    machine's cache folder by the database's (validated) id, like its FAISS file (derived
    data: any machine can fit it again)."""
    if gallery.store.is_server:
        return index_cache_dir() / f"{gallery.meta.key}.svc"
    return classifier_path_for(gallery.db_path)


def _steps():
    from sklearn.decomposition import PCA
    from sklearn.svm import SVC

    return {"pca": PCA, "svc": SVC}


def dump_model(model) -> tuple[dict, bytes]:
    """The fitted pipeline as data: (JSON-able settings, ``.npz`` bytes of its arrays)."""
    settings, arrays = {}, {}
    for name, step in model.steps:
        for key, value in step.__getstate__().items():
            if isinstance(value, (np.ndarray, np.generic)):
                arrays[f"{name}.{key}"] = np.asarray(value)
            elif isinstance(value, tuple):
                settings[f"{name}.{key}"] = {"tuple": list(value)}
            elif value is None or isinstance(value, (str, int, float, bool)):
                settings[f"{name}.{key}"] = value
            else:  # a scikit-learn that keeps objects in its state: fail the fit, not a later load
                raise TypeError(f"cannot store {name}.{key} ({type(value).__name__}) as data")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return settings, buf.getvalue()


def load_model(settings: dict, payload: bytes):
    """The pipeline back from :func:`dump_model`'s data (no pickle: only PCA and SVC are made)."""
    from sklearn.pipeline import Pipeline

    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    steps = []
    for name, cls in _steps().items():
        state = {k.partition(".")[2]: (tuple(v["tuple"]) if isinstance(v, dict) else v)
                 for k, v in settings.items() if k.startswith(name + ".")}
        state.update({k.partition(".")[2]: (a[()] if a.ndim == 0 else a)
                      for k, a in arrays.items() if k.startswith(name + ".")})
        step = cls.__new__(cls)
        step.__setstate__(state)
        steps.append((name, step))
    return Pipeline(steps)


def fit_gallery(gallery, components: int = CLASSIFIER_COMPONENTS, c: float = CLASSIFIER_C,
                kernel: str = CLASSIFIER_KERNEL) -> Classifier:
    """Fit on every stored embedding (label = identity) and save beside the database."""
    ids, names, vectors, stamp = _gallery_state(gallery)
    model = fit_vectors(vectors, names, components, c, kernel)
    header = {"database_id": gallery.meta.database_id, "fingerprint": stamp, "photos": len(ids),
              "identities": len(set(names)), "components": int(model.named_steps["pca"].n_components_),
              "C": c, "kernel": kernel, "fitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    settings, arrays = dump_model(model)
    write_framed(classifier_path(gallery), MAGIC, {**header, "model": settings}, arrays)
    return Classifier(model, header)


def read(path: Path) -> Classifier:
    try:
        header, body = read_framed(path, MAGIC)
        return Classifier(load_model(header.pop("model"), body), header)
    except FileNotFoundError:
        raise GalleryError(f"no classifier fitted for this database ({path} is missing): run "
                           "`facesearch classifier fit` first") from None
    except OSError as e:
        raise GalleryError(f"cannot read the classifier {path}: {e.strerror or e}") from None
    except NotFramed:
        if _starts_with(path, PICKLED):
            raise GalleryError(f"the classifier {path} was written by an older facesearch as a pickle, which is "
                               "never loaded (it could run code): run `facesearch classifier fit` again") from None
        raise GalleryError(f"the classifier {path} is damaged (not a facesearch classifier file): run "
                           "`facesearch classifier fit` again") from None
    except Exception as e:  # a damaged file: any decoding error means the same thing here
        raise GalleryError(f"the classifier {path} is damaged ({e}): run `facesearch classifier fit` again") from None


def _starts_with(path: Path, magic: bytes) -> bool:
    with open(path, "rb") as f:
        return f.read(len(magic)) == magic


def staleness(gallery, clf: Classifier) -> str | None:
    """Why ``clf`` does not fit the gallery as it is now (None: it does)."""
    if clf.header.get("database_id") != gallery.meta.database_id:
        return "it was fitted for another database"
    ids, names, _, stamp = _gallery_state(gallery)
    if stamp != clf.header.get("fingerprint"):
        return (f"the gallery changed since it was fitted ({clf.header.get('photos')} photos of "
                f"{clf.header.get('identities')} identities then, {len(ids)} of {len(set(names))} now)")
    return None


def load_current(gallery) -> Classifier:
    """The gallery's classifier; refused when missing, damaged or stale (never used silently)."""
    path = classifier_path(gallery)
    clf = read(path)
    why = staleness(gallery, clf)
    if why:
        raise GalleryError(f"the classifier {path} is stale: {why}; run `facesearch classifier fit` again")
    return clf


class Fitted:
    """The gallery's classifier as :func:`load_current` gives it, read and checked once per
    state of the gallery instead of on every query: checking reads and hashes every stored
    embedding. The state is the classifier file (its size and time), the database and its
    generation (every write of photos or vectors advances it) and the identities' names (a
    rename changes them without a new generation)."""

    def __init__(self):
        self._key: tuple | None = None
        self._classifier: Classifier | None = None

    def current(self, gallery) -> Classifier:
        path = classifier_path(gallery)
        try:
            st = path.stat()
            stamp = (st.st_size, st.st_mtime_ns)
        except OSError:
            stamp = None  # missing: load_current says so
        key = (str(path), stamp, gallery.meta.database_id, gallery.meta.generation, gallery.store.identity_names())
        if key != self._key or self._classifier is None:
            self._classifier, self._key = load_current(gallery), key
        return self._classifier
