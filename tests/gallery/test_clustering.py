"""Constrained average-linkage clustering, on synthetic unit vectors."""
import numpy as np

from facesearch.gallery.clustering import UNCLUSTERED, cluster_faces


def people(n_people=6, per=5, dim=32, spread=0.5, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, dim))
    x = np.repeat(centres, per, axis=0) + rng.normal(scale=spread, size=(n_people * per, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), np.repeat(np.arange(n_people), per)


def same_partition(labels, truth) -> bool:
    return all((labels[i] == labels[j]) == (truth[i] == truth[j]) for i in range(len(truth)) for j in range(len(truth)))


def test_separated_people_are_found_and_labelled_as_new_clusters():
    x, truth = people()
    labels = cluster_faces(x, np.arange(len(x)), 0.4)
    assert same_partition(labels, truth)
    assert (labels <= -2).all()  # new clusters, none kept from before


def test_a_face_like_no_other_stays_unclustered():
    x, _ = people()
    stranger = np.zeros((1, x.shape[1]), np.float32)
    stranger[0, 0] = 1
    labels = cluster_faces(np.vstack([x, stranger]), np.arange(len(x) + 1), 0.6)
    assert labels[-1] == UNCLUSTERED


def test_two_faces_of_one_photo_are_never_one_person():
    x, truth = people(n_people=1, per=4, spread=0.1)
    photos = np.array([0, 0, 1, 2])  # faces 0 and 1 are in the same photo
    labels = cluster_faces(x, photos, 0.3)
    assert labels[0] != labels[1]


def test_clusters_kept_from_before_take_new_faces_and_keep_their_ids():
    x, truth = people()
    first = np.arange(len(x)) % 5 < 3  # three faces of each person first
    before = cluster_faces(x[first], np.flatnonzero(first), 0.4)
    ids = {lab: 100 + k for k, lab in enumerate(sorted(set(before.tolist())))}
    start = np.full(len(x), UNCLUSTERED)
    start[first] = [ids[v] for v in before]
    after = cluster_faces(x, np.arange(len(x)), 0.4, start)
    assert (after[first] == start[first]).all()
    assert same_partition(after, truth) and (after >= 100).all()


def test_clusters_kept_from_before_are_never_merged_with_each_other():
    x, _ = people(n_people=1, per=4, spread=0.1)
    start = np.array([7, 7, 8, 8])  # one person split in two named clusters: they stay two
    assert cluster_faces(x, np.arange(4), 0.2, start).tolist() == [7, 7, 8, 8]


def test_empty_and_single_face():
    assert cluster_faces(np.zeros((0, 4), np.float32), np.zeros(0, int), 0.5).tolist() == []
    assert cluster_faces(np.eye(4, dtype=np.float32)[:1], np.zeros(1, int), 0.5).tolist() == [UNCLUSTERED]
