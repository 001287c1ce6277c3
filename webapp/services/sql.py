"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from webapp.extensions import db


def insert_ignoring_conflicts(model: type, index_elements: list[str] | None = None):
    """``INSERT ... ON CONFLICT DO NOTHING`` for the session's backend (bulk
    inserts that must not fail on rows another transaction already added)."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).on_conflict_do_nothing(index_elements=index_elements)
