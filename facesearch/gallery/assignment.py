"""Who each face of one photo is accepted as: the accept rule, corrections, and an
assignment so that two faces of one photo are never accepted as the same person.

Corrections (``facesearch correct PHOTO --not NAME``) are kept as the embeddings of faces
that are not NAME. A face is not accepted as NAME when one of them is closer to it than
NAME's best photo and reaches the rule's score floor: the stranger who kept being named
NAME, in any photo, stops being accepted, while NAME's own photos (closer to NAME than to
the stranger) still are. Nothing is retrained.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..types import AcceptRule, FaceMatch, Match
from .decision import Decider, face_match
from .library_schema import vectors_key
from .library_store import LibraryStore

CORRECTED = "corrected"  # why a face is UNKNOWN: a correction says it is not the best identity

Vetoes = dict[str, np.ndarray]  # identity -> embeddings of faces corrected as not that identity


def vetoed(vector: np.ndarray, match: Match, vetoes: Vetoes, rule: AcceptRule) -> bool:
    """Whether a correction says this face is not ``match.identity``."""
    negatives = vetoes.get(match.identity)
    if negatives is None or not len(negatives):
        return False
    closest = float((negatives @ vector).max())
    return closest >= rule.score and closest > match.score


def decide(pairs: list, matches: list[list[Match]], decides: Decider | None, k: int,
           vetoes: Vetoes | None = None) -> list[FaceMatch]:
    """The answers for the faces of one photo (``pairs``: (face, vector); ``matches``: each
    face's identities, best first, at least ``k``): each face by its own rule
    (:func:`.decision.face_match`), then the corrections, then, with several faces accepted
    as one identity, an assignment maximising the total score (scipy's
    ``linear_sum_assignment``): a face that loses its best identity to a closer face is
    accepted as its next identity if that one reaches the face's score floor (and is then
    listed first), else not accepted."""
    faces = [face_match(f, v, m, k, decides) for (f, v), m in zip(pairs, matches)]
    if decides is None:
        return faces
    vetoes = vetoes or {}
    rules = [fm.rule for fm in faces]
    accepted = [bool(fm.accepted) and not vetoed(v, m[0], vetoes, rule)
                for fm, (_, v), m, rule in zip(faces, pairs, matches, rules)]
    answers = [list(m) for m in matches]
    tops = [m[0].identity for m, ok in zip(matches, accepted) if ok]
    if len(tops) != len(set(tops)):
        _assign(pairs, answers, accepted, rules, vetoes)
    return [replace(fm, matches=m[:k], accepted=ok,
                    reason=fm.reason if ok == fm.accepted else (None if ok else CORRECTED))
            for fm, m, ok in zip(faces, answers, accepted)]


def _assign(pairs: list, answers: list[list[Match]], accepted: list[bool], rules: list[AcceptRule],
            vetoes: Vetoes) -> None:
    """Resolve faces accepted as the same identity, in place."""
    from scipy.optimize import linear_sum_assignment  # here: scipy loads only for a photo that needs it
    faces = [i for i, ok in enumerate(accepted) if ok]
    names = sorted({m.identity for i in faces for m in answers[i]})
    column = {n: c for c, n in enumerate(names)}
    scores = np.full((len(faces), len(names)), -1e6)  # not a candidate
    for r, i in enumerate(faces):
        for m in answers[i]:
            if m.score >= rules[i].score and not vetoed(pairs[i][1], m, vetoes, rules[i]):
                scores[r, column[m.identity]] = max(scores[r, column[m.identity]], m.score)
    rows, cols = linear_sum_assignment(scores, maximize=True)
    given = dict(zip(rows.tolist(), cols.tolist()))
    for r, i in enumerate(faces):
        c = given.get(r)
        if c is None or scores[r, c] <= -1e6:
            accepted[i] = False
            continue
        name = names[c]
        if answers[i][0].identity != name:
            chosen = next(m for m in answers[i] if m.identity == name)
            answers[i] = [chosen] + [m for m in answers[i] if m is not chosen]


def load_vetoes(store, meta) -> Vetoes:
    """The corrections of a database for its encoder (none before its first write)."""
    return {} if meta is None else LibraryStore(store).vetoes(vectors_key(meta.card), meta.card.embedding_dim)
