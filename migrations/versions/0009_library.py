"""library: unlabelled photos and their faces grouped into clusters (`facesearch cluster`),
corrections ("this face is not NAME", `facesearch correct`), an audit log of every write,
and the shadow embeddings of `facesearch reembed --model NEW`

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_photos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.String, nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("n_faces", sa.Integer, nullable=False),
        sa.Column("model_checksum", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "library_clusters",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "library_faces",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("photo_id", sa.Integer, sa.ForeignKey("library_photos.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("face_index", sa.Integer, nullable=False),
        sa.Column("box", sa.JSON, nullable=True),
        sa.Column("det_score", sa.Float, nullable=True),
        sa.Column("quality_info", sa.JSON, nullable=True),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("cluster_id", sa.Integer, sa.ForeignKey("library_clusters.id", ondelete="SET NULL"),
                  nullable=True, index=True),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("photo", sa.String, nullable=False),
        sa.Column("face_index", sa.Integer, nullable=False),
        sa.Column("box", sa.JSON, nullable=True),
        sa.Column("not_identity", sa.String, nullable=False, index=True),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("model_checksum", sa.String, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("action", sa.String, nullable=False),
        sa.Column("target", sa.String, nullable=True),
        sa.Column("details", sa.JSON, nullable=True),
        sa.Column("actor", sa.String, nullable=False),
    )
    op.create_table(
        "reembed_shadow",
        sa.Column("photo_id", sa.Integer, sa.ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("model_checksum", sa.String, primary_key=True),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    for table in ("reembed_shadow", "audit_log", "feedback", "library_faces", "library_clusters", "library_photos"):
        op.drop_table(table)
