"""vector store: which one holds the vectors (faiss, or milvus:<uri>) and the generation it was
last saved at (a FAISS file carries its own; a Milvus collection's is kept here)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("index_meta") as batch:
        batch.add_column(sa.Column("vectors", sa.String, nullable=False, server_default="faiss"))
        batch.add_column(sa.Column("vectors_generation", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("index_meta") as batch:
        batch.drop_column("vectors_generation")
        batch.drop_column("vectors")
