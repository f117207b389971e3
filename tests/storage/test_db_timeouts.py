"""PostgreSQL connections give up in seconds, with default settings: a dead host is a
transient error for the caller's retry, not a two-minute connect or a two-hour query."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage.db import dispose_engines, engine_for
from tests.netfaults import black_hole
from workers.errors import is_transient

pytestmark = pytest.mark.postgres


def _dsn(url: str) -> str:
    with engine_for(url).connect() as conn:
        conn.execute(text("SELECT 1"))
        return conn.connection.dbapi_connection.info.dsn  # type: ignore[union-attr]


def test_connections_carry_connect_and_keepalive_timeouts(pg_url: str) -> None:
    dsn = _dsn(pg_url)
    for param in ("connect_timeout=10", "keepalives=1", "keepalives_idle=30",
                  "keepalives_count=3", "tcp_user_timeout=60000"):  # fmt: skip
        assert param in dsn.split(), dsn


def test_a_timeout_in_the_url_wins(pg_url: str) -> None:
    dsn = _dsn(f"{pg_url}?connect_timeout=3&keepalives_idle=5")
    assert "connect_timeout=3" in dsn.split() and "keepalives_idle=5" in dsn.split(), dsn
    dispose_engines()


def test_a_dead_host_fails_as_transient_with_default_settings() -> None:
    """The port drops SYNs like a dead host: without connect_timeout libpq waited for the
    kernel's SYN retries (about 130 s here) before failing."""
    with black_hole() as endpoint:
        url = f"postgresql+psycopg://postgres@{endpoint}/coldstart"
        try:
            with pytest.raises(OperationalError) as caught, engine_for(url).connect():
                pass
            assert is_transient(caught.value)
            assert "timeout" in str(caught.value).lower(), caught.value
        finally:
            dispose_engines()
