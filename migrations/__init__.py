"""Alembic migrations for the facesearch database (installed as facesearch.migrations)."""
