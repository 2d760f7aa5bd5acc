"""database identity and person folders

A random id per database (the index file carries it, so a foreign or swapped index file
is recognised) and the folder each identity was enrolled from (a renamed identity keeps
its folder's photos when the folder is indexed again).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("index_meta") as batch:
        batch.add_column(sa.Column("database_id", sa.String, nullable=True))
    op.get_bind().execute(sa.text("UPDATE index_meta SET database_id = :id WHERE database_id IS NULL"),
                          {"id": uuid.uuid4().hex})
    op.create_table(
        "person_folders",
        sa.Column("path", sa.String, primary_key=True),
        sa.Column("identity_id", sa.Integer, sa.ForeignKey("identities.id", ondelete="CASCADE"),
                  nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("person_folders")
    with op.batch_alter_table("index_meta") as batch:
        batch.drop_column("database_id")
