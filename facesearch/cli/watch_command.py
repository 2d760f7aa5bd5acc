"""``facesearch watch``: who appears in a video, a stream or a webcam, and when."""
from __future__ import annotations

import json
import sys

import click

from ..types import shown
from .options import db_option, json_option, open_gallery, threshold_option


@click.command()
@click.argument("source")
@click.option("--every", type=click.IntRange(min=1), default=5, show_default=True,
              help="Identify faces in every N-th frame; tracks carry names in between.")
@threshold_option
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the video with boxes, track numbers and names drawn (mp4).")
@db_option
@json_option
def watch(source, every, threshold, out, db, as_json):
    """Identify and track the faces of SOURCE: a video file, an RTSP/HTTP URL or a webcam index (0).

    \b
    With --json, one line per processed frame:
      {"frame": N, "time": seconds, "faces": [{"box", "track", "identity", "score", "accepted"}]}
    then one summary line: {"summary": [{"identity", "spans": [[from, to], ...], "seen_s", "tracks"}],
    "tracks", "unknown_tracks", "frames_read", "frames_processed", "wall_s", "frames_per_s", "interrupted",
    "frame_errors"}.
    A track's identity is the one its accepted sightings voted for. Ctrl-C stops cleanly (the
    summary is still printed, --out finished).
    """
    from ..video.watch import Watch

    gallery = open_gallery(db, None, None, None)
    run = Watch(gallery, source, every, out, threshold)
    frames = run.frames()
    try:
        for result in frames:
            if as_json:
                click.echo(json.dumps(result.as_dict()))
            elif result.faces:
                click.echo(f"{result.time:8.2f}s  frame {result.frame}: " + ", ".join(
                    f"#{t.id} {'unknown' if t.accepted is False else shown(t.identity)}"
                    + (f" {t.score:.3f}" if t.score is not None else "") for _, t in result.faces))
            sys.stdout.flush()
    except KeyboardInterrupt:  # raised while printing, outside the reader: stop it the same way
        run.interrupted = True
        frames.close()
    summary = run.summary()
    if run.frame_errors:
        click.echo(f"error: {run.frame_errors} frames could not be searched: {run.first_error}", err=True)
    if as_json:
        click.echo(json.dumps(summary))
        sys.exit(1 if run.frame_errors else 0)
    click.echo(f"{summary['frames_read']} frames read, {summary['frames_processed']} processed in "
               f"{summary['wall_s']:.1f} s ({summary['frames_per_s'] or 0:.1f} frames/s); "
               f"{summary['tracks']} tracks, {summary['unknown_tracks']} unknown"
               + (" (interrupted)" if run.interrupted else ""))
    for entry in summary["summary"]:
        spans = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in entry["spans"])
        click.echo(f"  {shown(entry['identity'])}: {spans}")
    sys.exit(1 if run.frame_errors else 0)
