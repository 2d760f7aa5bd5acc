"""initial schema: identities, photos, index_meta

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "photos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("identity_id", sa.Integer, sa.ForeignKey("identities.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("path", sa.String, nullable=False, index=True),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("box", sa.JSON, nullable=True),
        sa.Column("det_score", sa.Float, nullable=True),
        sa.Column("n_faces", sa.Integer, nullable=False),
        sa.Column("quality", sa.Float, nullable=True),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("identity_id", "sha256"),
    )
    op.create_table(
        "index_meta",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("encoder", sa.String, nullable=False),
        sa.Column("embedding_dim", sa.Integer, nullable=False),
        sa.Column("preprocess", sa.JSON, nullable=False),
        sa.Column("model_checksum", sa.String, nullable=False),
        sa.Column("model_ref", sa.JSON, nullable=False),
        sa.Column("detector", sa.String, nullable=False),
        sa.Column("flip", sa.Boolean, nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("threshold", sa.Float, nullable=True),
        sa.Column("threshold_info", sa.JSON, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("index_meta")
    op.drop_table("photos")
    op.drop_table("identities")
