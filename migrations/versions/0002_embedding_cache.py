"""embedding cache: labelled photos embedded by calibrate/eval, keyed by file hash + model

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "embedding_cache",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("model_checksum", sa.String, primary_key=True),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("detected", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("embedding_cache")
