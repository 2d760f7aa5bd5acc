"""face quality of stored photos and cached labelled photos; a verification threshold
beside the identification one

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("photos") as batch:
        batch.add_column(sa.Column("quality_info", sa.JSON, nullable=True))
    with op.batch_alter_table("embedding_cache") as batch:
        batch.add_column(sa.Column("quality_info", sa.JSON, nullable=True))
    with op.batch_alter_table("index_meta") as batch:
        batch.add_column(sa.Column("verify_threshold", sa.Float, nullable=True))
        batch.add_column(sa.Column("verify_info", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("index_meta") as batch:
        batch.drop_column("verify_info")
        batch.drop_column("verify_threshold")
    with op.batch_alter_table("embedding_cache") as batch:
        batch.drop_column("quality_info")
    with op.batch_alter_table("photos") as batch:
        batch.drop_column("quality_info")
