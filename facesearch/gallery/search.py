"""Search: from face vectors to who each face is, in one place.

:class:`Search` asks the vector store for photos, over-fetching until every face has ``k``
identities (a person with many photos fills several rows), keeps each identity's best photo,
passes a call's ``nprobe`` / ``ef_search`` with the call (``faiss.SearchParameters``; the
index is shared and never changed for one query) and answers each photo of a batch with its
own ``k`` (the server runs a batch at its largest ``k``; each request's answer is cut here,
before it is decided, so it is the answer the request would get alone). Who is named and
accepted is a :class:`~.naming.Naming` strategy chosen once per call (:meth:`Search.naming`).
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from ..faces.pipeline import Embedded, label
from ..types import FaceMatch, FileError, Match, QueryResult
from . import decision
from .assignment import load_vetoes
from .classifier import Fitted
from .naming import Naming, NearestNeighbour, SupportVectors

Progress = Callable[[int], None] | None
Describe = Callable[[list[FaceMatch], list], None] | None  # sets each face's attributes (gender)


def fetch_size(k: int, n: int) -> int:
    """Photos to ask for first: identities with several photos take several rows."""
    return min(n, max(4 * k, k + 16))


class Search:
    """The query path of a :class:`~.facade.Gallery` (its ``meta``, ``store`` and ``index``)."""

    def __init__(self, gallery):
        self.gallery = gallery
        self.fitted = Fitted()  # the classifier of --decider svc, read and checked once per gallery state

    # -- nearest neighbours ------------------------------------------------------------------
    def nearest(self, vectors: np.ndarray, k: int, params: dict | None = None) -> list[list[Match]]:
        """Top-``k`` identities per query vector, one entry per identity (its best photo).
        ``params``: ``nprobe`` / ``ef_search`` for this call (default: the gallery's ``search_params``)."""
        empty = [[] for _ in range(len(vectors))]
        if self.gallery.meta is None:  # nothing enrolled yet (a server started on a new database)
            return empty
        index = self.gallery.index
        n = len(index)
        if n == 0:
            return empty
        params = {**self.gallery.search_params, **(params or {})}
        fetch = fetch_size(k, n)
        while True:
            scores, ids = index.search(vectors, fetch, params)
            groups = self._group(scores, ids, k)
            if fetch >= n or all(len(g) >= k for g in groups):
                return groups
            fetch = min(n, fetch * 4)

    def _group(self, scores: np.ndarray, ids: np.ndarray, k: int) -> list[list[Match]]:
        info = self.gallery.store.photo_info({int(i) for i in np.unique(ids) if i >= 0})
        out = []
        for row_s, row_i in zip(scores, ids):
            best: dict[str, Match] = {}
            for sc, pid in zip(row_s, row_i):
                if pid < 0 or int(pid) not in info or not -1.001 <= sc <= 1.001:  # a damaged vector is no match
                    continue
                name, path = info[int(pid)]
                if name not in best:  # rows are sorted by score: first hit is the best photo
                    best[name] = Match(name, float(sc), path, photo_id=int(pid))
                if len(best) == k:
                    break
            out.append(list(best.values()))
        return out

    # -- deciding ----------------------------------------------------------------------------
    def naming(self, threshold: float | None = None, decider: str = "nn") -> Naming:
        """Who names and who accepts, chosen once for a call: nearest neighbour or the fitted
        classifier (``decider="svc"``), the rule of :func:`.decision.decider_of` and the
        corrections (``assignment.py``)."""
        rule = decision.decider_of(self.gallery, threshold, decider)
        vetoes = load_vetoes(self.gallery.store, self.gallery.meta) if rule is not None else {}
        if decider == "svc":
            return SupportVectors(self.nearest, rule, vetoes, self.fitted.current(self.gallery))
        return NearestNeighbour(self.nearest, rule, vetoes)

    def identify(self, batches: Iterable[list[Embedded | FileError]], k: int | Sequence[int],
                 naming: Naming, all_faces: bool = False, describe: Describe = None,
                 progress: Progress = None) -> list[QueryResult | FileError]:
        """The answer for each photo of ``batches`` (an :meth:`Embedder.batches` run), decided by
        ``naming``. ``k``: identities per photo, one for all or one per photo."""
        warnings = decision.threshold_warnings(self.gallery, naming.rule)
        ks = _each(k)
        out: list[QueryResult | FileError] = []
        for results in batches:
            wanted = [next(ks) for _ in results]
            good = [r for r in results if isinstance(r, Embedded)]
            vectors = [v for r in good for _, v in r.faces] if all_faces else [r.vector for r in good]
            fetch = naming.fetch(max(wanted))
            matches = iter(naming.rank(np.array(vectors), fetch) if good else [])
            for r, k_r in zip(results, wanted):
                if isinstance(r, FileError):
                    out.append(r)
                    continue
                pairs = r.faces or [(r.face, r.vector)]
                mine = [m[:naming.fetch(k_r)] for _, m in zip(pairs, matches)]  # this photo's own k
                faces = naming.decide(pairs, mine, k_r)
                if describe is not None:
                    describe(faces, pairs)
                main = faces[r.main if all_faces else 0]
                out.append(QueryResult(label(r.path), main.matches, main.accepted, r.face, warnings,
                                       faces if all_faces else None, main.attributes, main.calibration,
                                       main.reason, main.rule))
            if progress:
                progress(len(results))
        return out


def _each(k: int | Sequence[int]) -> Iterator[int]:
    if isinstance(k, (int, np.integer)):
        while True:
            yield int(k)
    yield from (int(x) for x in k)
