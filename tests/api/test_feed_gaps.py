"""The index follows the outbox by id; ids come from a sequence at insert time, so a slow
transaction can commit an event *below* one already applied. The follower re-reads such
skipped ids, so the slow title still reaches the index (PostgreSQL, two real sessions)."""

from __future__ import annotations

import pytest

from storage import migrate, vectors
from storage.db import session_factory, session_scope
from tests.api.seed import add_title, seed
from web.api.v1.services import Recommender
from workers.settings import Settings

pytestmark = pytest.mark.postgres


def test_an_event_committed_below_the_last_applied_id_is_applied(pg_url, tmp_path) -> None:
    migrate.upgrade(pg_url)
    seed(pg_url)
    rec = Recommender(Settings(data_dir=tmp_path, database_url=pg_url), follow=False)
    cat = rec.ready()
    slow = session_factory(pg_url)()
    try:
        space = vectors.get_space(slow, "fused", "t1")
        slow_id = add_title(slow, "slow", {"eerie": 0.9}, [], 600.0, space, 50)  # id n, open
        with session_scope(pg_url) as fast:
            space_fast = vectors.get_space(fast, "fused", "t1")
            fast_id = add_title(fast, "fast", {"joyful": 0.9}, [], 600.0, space_fast, 51)
        assert rec.apply_events() == 1
        assert cat.vector("fused", fast_id) is not None
        assert cat.vector("fused", slow_id) is None  # not committed yet
        slow.commit()
    finally:
        slow.close()
    assert rec.apply_events() == 1
    assert cat.vector("fused", slow_id) is not None
    assert rec.apply_events() == 0  # applied once, no longer looked for
