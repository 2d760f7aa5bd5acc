import json

import numpy as np
import pytest

from facesearch.attributes import load_head
from facesearch.errors import DataError
from training.gender import class_photos, identity_of, select, train_gender


def test_identity_of_strips_the_photo_number():
    assert identity_of("x/male/Ai_Sugiyama_0003.jpg") == "Ai_Sugiyama"
    assert identity_of("007_frontal.jpg") == "007_frontal"


def test_class_photos_needs_two_class_folders(tmp_path, gender_dir):
    (tmp_path / "only").mkdir()
    with pytest.raises(DataError, match="two classes"):
        class_photos(tmp_path)
    photos = class_photos(gender_dir / "train")
    assert photos.classes == ["female", "male"] and np.bincount(photos.labels).tolist() == [8, 24]
    assert len(set(photos.identities)) == 16


@pytest.mark.slow  # fits every candidate in folds
def test_selection_scores_every_candidate_in_identity_folds():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 1, 1], 10)
    x = rng.normal(size=(40, 4)) + y[:, None] * 3
    groups = [f"id{i // 2}" for i in range(40)]  # two photos per identity
    chosen = select(x, y, groups, folds=4)
    assert chosen["best"]["cv_balanced_accuracy"] > 0.9
    assert {c["kind"] for c in chosen["candidates"]} == {"logreg", "mlp"}


def test_gender_task_trains_reports_and_saves_a_head(gender_model, gender_dir):
    head = load_head(gender_model)
    assert head.card.task == "gender" and head.card.classes == ("female", "male")
    assert head.card.encoder_model == "fake" and head.card.embedding_dim == 16
    report = json.loads((gender_model.parent / "report.json").read_text())
    assert report["val"]["balanced_accuracy"] == 1.0  # colours tell the classes apart
    assert report["val"]["n"] == 10 and report["val_unseen"]["n"] == 6 and report["val_unseen_identities"] == 3
    assert set(report["val"]["per_class"]) == {"female", "male"} and report["val"]["confusion"] == [[4, 0], [0, 6]]
    assert report["val_photos_in_train"] == 4 and report["val_identities_held_out"]["train_photos"] == 28
    assert report["val_identities_held_out"]["val"]["balanced_accuracy"] == 1.0
    assert load_head(gender_model.parent / "gender_without_val_identities.npz").card == head.card
    assert (gender_model.parent / "confusion.png").stat().st_size > 0


def test_too_few_photos_is_a_clear_error(tmp_path, gender_dir):
    import shutil

    for cls in ("female", "male"):
        (tmp_path / "t" / cls).mkdir(parents=True)
        shutil.copy(next((gender_dir / "train" / cls).iterdir()), tmp_path / "t" / cls)
    with pytest.raises(DataError, match="too few"):
        train_gender(str(tmp_path / "t"), None, str(tmp_path / "out"), "fake", cache_dir=tmp_path / "c")


def test_embeddings_are_cached_per_photo_by_contents(tmp_path, gender_dir, monkeypatch):
    import shutil

    from facesearch.encoders import create_encoder
    from facesearch.faces.pipeline import Embedder
    from training.gender import embed_photos

    encoder = create_encoder("fake")
    paths = sorted((gender_dir / "train" / "male").iterdir())[:4]
    emb, usable, errors = embed_photos(encoder, paths, "none", tmp_path / "c")
    assert emb.shape == (4, 16) and not np.isnan(emb).any() and not errors
    copies = [shutil.copy(p, tmp_path / p.name) for p in paths]  # same bytes elsewhere: no embedding runs
    calls = []
    monkeypatch.setattr(Embedder, "_batch", lambda self, todo, decoded: calls.append(todo) or [])
    again, usable_again, _ = embed_photos(encoder, [type(paths[0])(c) for c in copies], "none", tmp_path / "c")
    assert calls == [] and np.array_equal(again, emb) and np.array_equal(usable_again, usable)
