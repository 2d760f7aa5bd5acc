"""Bytes per face in the system of record: facesearch's tables filled with synthetic rows
shaped like real ones (path, sha256, box, quality measures as JSON, a float32 embedding),
measured on disk in SQLite and, with ``--postgres``, in PostgreSQL.

    python benchmarks/db_bytes.py --rows 200000 [--postgres postgresql://user@host:port/db]

One identity per ``--photos-per-identity`` photos. The tables are created from the ORM
schema (what Alembic's migrations produce); PostgreSQL needs ``psycopg`` (3). Rows are
inserted in batches of 10,000, then SQLite is VACUUMed and PostgreSQL VACUUM ANALYZEd, so
the figures are settled sizes, not free space left by the load.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import create_engine, insert, text

from facesearch.gallery.schema import Base, Identity, Photo


def rows(n: int, per_identity: int, dim: int, rng: np.random.Generator):
    """Batches of (identity rows, photo rows) like the ones ``index`` writes."""
    now = datetime.now(timezone.utc)
    for start in range(0, n, 10_000):
        ids = range(start, min(n, start + 10_000))
        people = sorted({i // per_identity for i in ids})
        photos = []
        for i in ids:
            m = {"det_score": float(rng.random()), "sharpness": float(rng.random() * 300), "saturated": 0.0,
                 "dark": 0.0, "face_px": float(rng.random() * 200), "yaw": float(rng.normal()),
                 "roll": float(rng.normal())}
            photos.append({"id": i + 1, "identity_id": i // per_identity + 1, "created_at": now,
                           "path": f"/srv/gallery/person_{i // per_identity:09d}/photo_{i % per_identity:04d}.jpg",
                           "sha256": rng.bytes(32).hex(), "box": [float(v) for v in rng.random(4) * 200],
                           "det_score": m["det_score"], "n_faces": 1, "quality": float(rng.random()),
                           "quality_info": {"score": 0.9, "usable": True, "reasons": [], "measures": m},
                           "embedding": rng.standard_normal(dim).astype(np.float32).tobytes()})
        yield ([{"id": p + 1, "name": f"person_{p:09d}", "created_at": now} for p in people if p * per_identity >= start],
               photos)


def fill(url: str, n: int, per_identity: int, dim: int) -> None:
    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as c:
        for people, photos in rows(n, per_identity, dim, np.random.default_rng(0)):
            if people:
                c.execute(insert(Identity), people)
            c.execute(insert(Photo), photos)
    engine.dispose()


def sqlite_sizes(path: str) -> dict:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as c:
        c.execute(text("VACUUM"))
        try:  # per table and index, where SQLite has the dbstat table
            return dict(c.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")).all())
        except Exception:
            return {"(file)": os.path.getsize(path)}


def postgres_sizes(url: str) -> dict:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text("VACUUM ANALYZE"))
        return dict(c.execute(text(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 't')")).all()) | dict(c.execute(text(
                "SELECT 'toast of ' || c.relname, pg_total_relation_size(c.reltoastrelid) FROM pg_class c "
                "WHERE c.reltoastrelid <> 0 AND c.relname IN ('photos', 'identities')")).all())


def report(name: str, sizes: dict, n: int, dim: int) -> None:
    total = sum(sizes.values())
    print(f"\n## {name}: {n:,} photos, embedding {dim * 4} bytes")
    print("| relation | bytes | bytes per photo |\n|---|---|---|")
    for rel, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        if size:
            print(f"| {rel} | {size:,} | {size / n:.0f} |")
    print(f"| **all** | {total:,} | **{total / n:.0f}** |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--photos-per-identity", type=int, default=5)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--postgres", default=None, help="SQLAlchemy URL of an empty PostgreSQL database to fill")
    args = ap.parse_args()
    print(json.dumps({k: v for k, v in vars(args).items() if k != "postgres"}))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bytes.db")
        fill(f"sqlite:///{path}", args.rows, args.photos_per_identity, args.dim)
        report("SQLite", sqlite_sizes(path), args.rows, args.dim)
    if args.postgres:
        fill(args.postgres, args.rows, args.photos_per_identity, args.dim)
        report("PostgreSQL", postgres_sizes(args.postgres), args.rows, args.dim)


if __name__ == "__main__":
    main()
