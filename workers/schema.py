"""Making sure the database schema is current before work starts."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from storage import migrate
from storage.db import normalise_url
from workers.settings import Settings


class SchemaOutOfDate(RuntimeError):
    pass


def ensure_schema(settings: Settings) -> None:
    """Embedded SQLite migrates itself; a shared server database must be upgraded on purpose
    (``coldstart db upgrade``, the fleet's one-shot migrate service)."""
    url = settings.effective_database_url
    if migrate.is_up_to_date(url):
        return
    if make_url(normalise_url(url)).get_backend_name() == "sqlite":
        migrate.upgrade(url)
        return
    raise SchemaOutOfDate(
        f"database schema is at {migrate.current_revision(url)}, code expects "
        f"{migrate.head_revision()}: run `coldstart db upgrade`"
    )
