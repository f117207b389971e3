"""The schema exists only through Alembic, and the migrations produce exactly the models."""

from __future__ import annotations

from sqlalchemy import inspect

from storage import migrate
from storage.db import engine_for
from storage.models import Base


def test_migrations_match_models_exactly(db_url: str) -> None:
    # db_url is migrated to head on SQLite and on PostgreSQL by the fixture.
    assert migrate.is_up_to_date(db_url)
    assert migrate.schema_diff(db_url) == []
    tables = set(inspect(engine_for(db_url)).get_table_names()) - {"alembic_version"}
    assert tables == set(Base.metadata.tables)


def test_upgrade_is_idempotent(db_url: str) -> None:
    migrate.upgrade(db_url)
    assert migrate.current_revision(db_url) == migrate.head_revision()
