"""Watching a video: read frames with OpenCV (a file, an RTSP/HTTP URL or a webcam index),
identify every face in every ``every``-th frame through the gallery, keep names on tracks
(:mod:`.tracker`) and, optionally, write the frames back with boxes and names drawn.

``cv2`` is imported only here, by ``facesearch watch``: no other command pays for it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import SourceError
from ..files import is_same_file
from .tracker import IoUTracker, Sighting, Track, timeline

OPEN_TIMEOUT_MS = 10_000  # a URL that does not answer is an error after this, not a hang


def _cv2():
    try:
        import cv2
    except ImportError:  # pragma: no cover - a dependency; the message says how to get it
        raise SourceError("facesearch watch needs OpenCV: pip install opencv-python-headless") from None
    return cv2


def open_source(source: str):
    """A cv2.VideoCapture on ``source``: digits are a webcam index, ``scheme://`` a stream,
    anything else a file. A source that cannot be opened is a :class:`SourceError`."""
    cv2 = _cv2()
    if source.isdigit():
        cap = cv2.VideoCapture(int(source))
    elif "://" in source:
        cap = cv2.VideoCapture(source, cv2.CAP_ANY, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS])
    else:
        path = Path(source)
        if not path.exists():
            raise SourceError(f"{source}: no such file (SOURCE is a video file, a URL or a webcam index)")
        if path.is_dir():
            raise SourceError(f"{source}: is a directory, expected a video file")
        cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise SourceError(f"cannot open video source {source}: not a video OpenCV can read, "
                          "or the stream or camera is unavailable")
    return cap


def check_output(source: str, out: str) -> None:
    """A SourceError for an --out that would destroy the source (the same file, also through
    a link) or is not a file a video can be written to (a folder, a device)."""
    if is_same_file(source, out):
        raise SourceError(f"--out {out} is the source video itself: the annotated copy would replace it; "
                          "write it to another file")
    path = Path(out)
    if path.exists() and not path.is_file():
        raise SourceError(f"--out {out} is not a regular file: a video can only be written to a file")
    if not path.parent.is_dir():
        raise SourceError(f"--out {out}: no folder {path.parent}")


@dataclass
class FrameResult:
    """One processed frame: its number, its time (s) and the faces on it with their tracks."""

    frame: int
    time: float
    faces: list[tuple[Sighting, Track]]

    def as_dict(self) -> dict:
        return {"frame": self.frame, "time": round(self.time, 3), "faces": [
            {"box": [round(float(v), 1) for v in s.box], "track": t.id, "identity": t.identity,
             "score": None if t.score is None else round(float(t.score), 6), "accepted": t.accepted}
            for s, t in self.faces]}


@dataclass
class Watch:
    """One run over a source. Iterate :meth:`frames`; afterwards :meth:`summary`."""

    gallery: object
    source: str
    every: int = 5
    out: str | None = None
    threshold: float | None = None
    tracker: IoUTracker = field(default_factory=IoUTracker)
    frames_read: int = 0
    frames_processed: int = 0
    wall_s: float = 0.0
    interrupted: bool = False
    frame_errors: int = 0  # processed frames that could not be searched (e.g. too small for a face)
    first_error: str | None = None

    def frames(self) -> Iterator[FrameResult]:
        """A result per processed frame, until the source ends (or Ctrl-C: stops cleanly,
        ``interrupted`` set, the output file finished)."""
        cv2 = _cv2()
        if self.out:
            check_output(self.source, self.out)
        cap = open_source(self.source)
        self._warm_up()
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        live = self.source.isdigit() or "://" in self.source or not 1 <= fps <= 1000
        writer, shown = None, []
        start = time.perf_counter()
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                n = self.frames_read
                self.frames_read += 1
                at = time.perf_counter() - start if live else n / fps
                if n % self.every == 0:
                    result = self._process(n, at, bgr)
                    shown = result.faces
                    yield result
                if self.out:
                    writer = writer or self._writer(cv2, bgr, fps)
                    writer.write(draw(cv2, bgr, shown))
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            self.wall_s = time.perf_counter() - start
            cap.release()
            if writer is not None:
                writer.release()
        if self.frames_read == 0 and not self.interrupted:
            raise SourceError(f"no frame could be read from {self.source}")

    def _warm_up(self) -> None:
        """Models loaded on the fast runtime before the first frame, one thread each: one
        small frame at a time gains little from two, and on a busy 2-core machine two threads
        made a frame 20x slower (0.9 s instead of 0.04 s, measured)."""
        import os

        from ..config import THREADS_ENV

        os.environ.setdefault(THREADS_ENV, "1")  # read when the sessions open, in warm_up
        self.gallery.warm_up()

    def _process(self, n: int, at: float, bgr) -> FrameResult:
        from PIL import Image

        from ..gallery.reembed import follow_switch
        from ..types import FileError

        image = Image.fromarray(bgr[:, :, ::-1])  # OpenCV frames are BGR
        follow_switch(self.gallery)  # a `reembed --switch` while watching: the new model from this frame on
        [r] = self.gallery.identify([image], k=5, threshold=self.threshold, all_faces=True)
        self.frames_processed += 1
        # A face without a box is a centre crop where nothing was detected, unless the gallery
        # takes photos as face crops (--detector none): then the frame is the face.
        whole = (0.0, 0.0, float(image.width), float(image.height)) if self.gallery.detector == "none" else None
        sightings = [] if isinstance(r, FileError) else [
            Sighting(tuple(f.box) if f.box is not None else whole, f.matches[0].identity if f.matches else None,
                     f.matches[0].score if f.matches else None, f.accepted,
                     {m.identity: m.score for m in f.matches})
            for f in r.faces or [] if f.box is not None or whole is not None]
        if isinstance(r, FileError):
            self.frame_errors += 1
            self.first_error = self.first_error or r.reason
        tracks = self.tracker.update(sightings, at)
        return FrameResult(n, at, list(zip(sightings, tracks)))

    def _writer(self, cv2, bgr, fps: float):
        h, w = bgr.shape[:2]
        writer = cv2.VideoWriter(self.out, cv2.VideoWriter_fourcc(*"mp4v"), fps if 1 <= fps <= 1000 else 25.0, (w, h))
        if not writer.isOpened():
            raise SourceError(f"cannot write {self.out} (mp4v video)")
        return writer

    def summary(self) -> dict:
        """Who was seen when, and how fast the source was read."""
        tracks = self.tracker.tracks()
        return {"summary": timeline(tracks), "tracks": len(tracks),
                "unknown_tracks": sum(1 for t in tracks if t.accepted is False),
                "frames_read": self.frames_read, "frames_processed": self.frames_processed,
                "wall_s": round(self.wall_s, 3),
                "frames_per_s": round(self.frames_read / self.wall_s, 2) if self.wall_s else None,
                "interrupted": self.interrupted, "frame_errors": self.frame_errors}


def draw(cv2, bgr, faces: list[tuple[Sighting, Track]]):
    """The frame with each tracked face boxed and labelled (green: accepted, red: unknown,
    yellow: no threshold calibrated)."""
    img = bgr.copy()
    for s, t in faces:
        x1, y1, x2, y2 = (int(round(v)) for v in s.box)
        colour = {True: (0, 200, 0), False: (0, 0, 220), None: (0, 200, 220)}[t.accepted]  # None: no threshold
        name = "unknown" if t.accepted is False else t.identity
        cv2.rectangle(img, (x1, y1), (x2, y2), colour, 2)
        cv2.putText(img, f"#{t.id} {name}", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1)
    return img
