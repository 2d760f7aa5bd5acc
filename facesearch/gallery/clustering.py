"""Grouping faces into people: average-linkage agglomerative clustering on cosine
similarity, with cannot-link constraints, that can start from clusters already made.

Two groups merge while the mean similarity of their faces (every pair, one face from each)
is at least ``threshold``, best pair first. Two faces of one photo are never one person
(cannot-link: groups holding faces of the same photo never merge), and clusters kept from
an earlier run are never merged with each other (a name given to one stays on the same
faces); they only take in new faces. A face left alone is unclustered.

Average linkage can only join groups that some pair of faces at ``threshold`` or more
already links, so the work is split into the connected components of that graph: each is
clustered on its own (memory and time grow with the largest component, not the library).
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

UNCLUSTERED = -1
BLOCK = 2048  # rows of the similarity matrix computed at a time when looking for links


def _links(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of faces whose cosine similarity reaches ``threshold``."""
    rows, cols = [], []
    for start in range(0, len(vectors), BLOCK):
        sims = vectors[start:start + BLOCK] @ vectors.T
        i, j = np.nonzero(sims >= threshold)
        keep = start + i < j
        rows.append(start + i[keep])
        cols.append(j[keep])
    return np.concatenate(rows), np.concatenate(cols)


def cluster_faces(vectors: np.ndarray, photos: np.ndarray, threshold: float,
                  start: np.ndarray | None = None) -> np.ndarray:
    """A label per face: an existing cluster id (>= 0, from ``start``) for faces in, or
    joining, a cluster kept from before; -2, -3, ... for new clusters; -1 unclustered.

    ``vectors``: unit embeddings (n x d); ``photos``: each face's photo id (cannot-link);
    ``start``: each face's existing cluster id, or -1 for a face not clustered yet.
    """
    n = len(vectors)
    start = np.full(n, UNCLUSTERED, np.int64) if start is None else np.asarray(start, np.int64)
    labels = start.copy()
    if n == 0:
        return labels
    vectors = np.asarray(vectors, np.float32)
    i, j = _links(vectors, threshold)
    # faces of one old cluster are one node: link them so they share a component
    for cid in np.unique(start[start >= 0]):
        members = np.flatnonzero(start == cid)
        i, j = np.concatenate([i, members[:-1]]), np.concatenate([j, members[1:]])
    graph = coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    next_new = -2
    for comp in np.unique(component):
        faces = np.flatnonzero(component == comp)
        if len(faces) < 2:
            continue
        groups = _agglomerate(vectors[faces], photos[faces], start[faces], threshold)
        for members in groups:
            old = start[faces[members]]
            old = old[old >= 0]
            if len(old):
                labels[faces[members]] = old[0]
            elif len(members) > 1:
                labels[faces[members]] = next_new
                next_new -= 1
    return labels


def _agglomerate(vectors: np.ndarray, photos: np.ndarray, start: np.ndarray, threshold: float) -> list[np.ndarray]:
    """The groups (arrays of positions) of one component, merged best pair first."""
    # initial nodes: each old cluster, then each free face
    nodes = [np.flatnonzero(start == cid) for cid in np.unique(start[start >= 0])]
    nodes += [np.array([f]) for f in np.flatnonzero(start < 0)]
    k = len(nodes)
    member = np.zeros((k, len(vectors)), np.float32)
    for a, faces in enumerate(nodes):
        member[a, faces] = 1
    sums = member @ (vectors @ vectors.T) @ member.T  # summed similarity of every node pair
    size = member.sum(axis=1)
    _, photo_col = np.unique(photos, return_inverse=True)
    in_photo = np.zeros((k, photo_col.max() + 1), bool)
    for a, faces in enumerate(nodes):
        in_photo[a, photo_col[faces]] = True
    old = np.array([start[faces[0]] >= 0 for faces in nodes])
    blocked = (in_photo.astype(np.int32) @ in_photo.T.astype(np.int32) > 0) | np.outer(old, old)
    active = np.ones(k, bool)

    def averages(a: int) -> np.ndarray:
        row = sums[a] / (size[a] * size)
        row[blocked[a] | ~active] = -np.inf
        row[a] = -np.inf
        return row

    avg = np.stack([averages(a) for a in range(k)]) if k else np.zeros((0, 0))
    best = avg.argmax(axis=1)
    best_val = avg[np.arange(k), best]
    while True:
        a = int(best_val.argmax())
        if best_val[a] < threshold:
            break
        b = int(best[a])
        a, b = min(a, b), max(a, b)
        nodes[a] = np.concatenate([nodes[a], nodes[b]])
        sums[a] += sums[b]
        sums[:, a] = sums[a]
        size[a] += size[b]
        blocked[a] |= blocked[b]
        blocked[:, a] = blocked[a]
        active[b] = False
        avg[b], avg[:, b] = -np.inf, -np.inf
        best_val[b] = -np.inf
        avg[a] = averages(a)
        avg[:, a] = avg[a]
        best[a], best_val[a] = int(avg[a].argmax()), avg[a].max()
        others = active.copy()
        others[a] = False
        stale = others & ((best == a) | (best == b))  # their best partner changed: look again
        for c in np.flatnonzero(stale):
            best[c] = int(avg[c].argmax())
            best_val[c] = avg[c, best[c]]
        closer = others & ~stale & (avg[:, a] > best_val)
        best[closer], best_val[closer] = a, avg[closer, a]
    return [nodes[a] for a in np.flatnonzero(active)]
