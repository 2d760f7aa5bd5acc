"""index type and search parameters in index_meta

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("index_meta") as batch:
        batch.add_column(sa.Column("index_type", sa.String, nullable=False, server_default="auto"))
        batch.add_column(sa.Column("index_params", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("index_meta") as batch:
        batch.drop_column("index_params")
        batch.drop_column("index_type")
