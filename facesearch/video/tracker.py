"""An IoU tracker: faces found in successive processed frames are one track when their boxes
overlap enough, so a name holds between detections and a person is counted once.

Association is greedy by IoU, best pairs first (as in Bochinski et al.'s IOU tracker); a
track that goes unmatched for more than ``max_misses`` processed frames ends. A track's
name is a vote: the identity with the highest summed score over its *accepted* sightings
(so one blurred frame does not rename it; without a calibrated threshold every sighting
votes and nothing is accepted or refused: ``accepted`` None); with no vote it shows the
latest best guess, not accepted. A sighting accepted as someone other than the person a
track was accepted as starts a new track, even in the same place (one person replacing
another in front of the camera).
"""
from __future__ import annotations

from dataclasses import dataclass, field

Box = tuple[float, float, float, float]  # x1, y1, x2, y2


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not overlap)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Sighting:
    """One face in one processed frame: its box and who the gallery says it is."""

    box: Box
    identity: str | None  # best match (None: empty gallery)
    score: float | None
    accepted: bool | None  # None: no threshold calibrated
    scores: dict[str, float] = field(default_factory=dict)  # identity -> score, of the top-k matches


@dataclass
class Track:
    id: int
    box: Box
    first_time: float
    last_time: float
    last: Sighting
    votes: dict[str, float] = field(default_factory=dict)  # identity -> summed score of voting sightings
    confirmed: bool = False  # some sighting was accepted
    misses: int = 0

    @property
    def identity(self) -> str | None:
        return max(self.votes, key=self.votes.get) if self.votes else self.last.identity

    @property
    def accepted(self) -> bool | None:
        return True if self.confirmed else None if self.votes else self.last.accepted

    def conflicts(self, s: Sighting) -> bool:
        """Whether ``s`` was accepted as someone else than this track was."""
        return bool(self.confirmed and s.accepted and s.identity != self.identity)

    @property
    def score(self) -> float | None:
        """The latest frame's score for the track's identity (its best score if not in the top-k)."""
        return self.last.scores.get(self.identity, self.last.score)

    def see(self, s: Sighting, time: float) -> None:
        self.box, self.last, self.last_time, self.misses = s.box, s, time, 0
        if s.accepted is not False and s.identity is not None:  # None: no threshold, every sighting votes
            self.votes[s.identity] = self.votes.get(s.identity, 0.0) + float(s.score or 0.0)
            self.confirmed = self.confirmed or bool(s.accepted)


class IoUTracker:
    """Tracks faces across processed frames; :meth:`update` once per processed frame."""

    def __init__(self, min_iou: float = 0.3, max_misses: int = 2):
        self.min_iou, self.max_misses = min_iou, max_misses
        self.active: list[Track] = []
        self.ended: list[Track] = []
        self._next = 1

    def update(self, sightings: list[Sighting], time: float) -> list[Track]:
        """Assign this frame's sightings to tracks (new ones where nothing overlaps); returns
        the track of each sighting, in the same order."""
        pairs = sorted(((iou(t.box, s.box), ti, si) for ti, t in enumerate(self.active)
                        for si, s in enumerate(sightings)), reverse=True)
        owner: dict[int, Track] = {}
        taken: set[int] = set()
        for overlap, ti, si in pairs:
            if overlap < self.min_iou:
                break
            if ti in taken or si in owner or self.active[ti].conflicts(sightings[si]):
                continue
            taken.add(ti)
            owner[si] = self.active[ti]
        for ti, track in enumerate(self.active):
            if ti not in taken:
                track.misses += 1
        for si, s in enumerate(sightings):
            track = owner.get(si)
            if track is None:
                track = owner[si] = Track(self._next, s.box, time, time, s)
                self._next += 1
                self.active.append(track)
            track.see(s, time)
        self.ended += [t for t in self.active if t.misses > self.max_misses]
        self.active = [t for t in self.active if t.misses <= self.max_misses]
        return [owner[si] for si in range(len(sightings))]

    def tracks(self) -> list[Track]:
        """Every track so far, ended or not, by first appearance."""
        return sorted(self.ended + self.active, key=lambda t: (t.first_time, t.id))


def timeline(tracks: list[Track], gap: float = 1.0) -> list[dict]:
    """Who was seen when: per identity of a track not refused (accepted, or no threshold
    calibrated), its time spans (tracks of one identity less than ``gap`` seconds apart
    merged), ordered by first appearance."""
    spans: dict[str, list[list[float]]] = {}
    ids: dict[str, list[int]] = {}
    for t in sorted(tracks, key=lambda t: t.first_time):
        if t.accepted is False or t.identity is None:
            continue
        runs = spans.setdefault(t.identity, [])
        if runs and t.first_time - runs[-1][1] <= gap:
            runs[-1][1] = max(runs[-1][1], t.last_time)
        else:
            runs.append([t.first_time, t.last_time])
        ids.setdefault(t.identity, []).append(t.id)
    out = [{"identity": name, "spans": [[round(a, 3), round(b, 3)] for a, b in runs],
            "seen_s": round(sum(b - a for a, b in runs), 3), "tracks": ids[name]}
           for name, runs in spans.items()]
    return sorted(out, key=lambda e: e["spans"][0][0])
