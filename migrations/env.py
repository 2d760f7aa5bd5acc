"""Alembic environment: facesearch passes its own connection in ``config.attributes``."""
from alembic import context
from sqlalchemy import create_engine

from facesearch.gallery.schema import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is None:  # plain `alembic -x db=path upgrade head` (or -x db=postgresql://...)
        db = context.get_x_argument(as_dictionary=True).get("db", "facesearch.db")
        url = db.replace("postgresql://", "postgresql+psycopg://", 1) if "://" in db else f"sqlite:///{db}"
        with create_engine(url).begin() as conn:
            _run(conn)
    else:
        _run(conn)


def _run(conn) -> None:
    context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
