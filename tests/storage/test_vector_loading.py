"""Loading every title vector of a space for an index (``vectors.load_title_matrix``): the
PostgreSQL path (binary COPY) and the SQLite path give the same ids and matrix, in title
order whatever the storage order, and a stored vector of another dimension is an error."""

from __future__ import annotations

import numpy as np
import pytest

from storage import vectors
from storage.db import session_scope
from storage.models import Embedding, Title


def _titles(db: str, n: int) -> list[int]:
    with session_scope(db) as s:
        titles = [
            Title(name=f"t{i}", source_uri=f"u{i}", source_key=f"k{i}",
                  content_sha256=f"{i:064x}", size_bytes=1)
            for i in range(n)
        ]  # fmt: skip
        s.add_all(titles)
        s.flush()
        return [t.id for t in titles]


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_matrix_is_in_title_order_and_matches_what_was_stored(db_url: str) -> None:
    ids = _titles(db_url, 9)
    rng = np.random.default_rng(3)
    expected = {t: rng.standard_normal(6).astype(np.float32) for t in ids}
    with session_scope(db_url) as s:
        space = vectors.register_space(s, name="text", version="a", dim=6, model="m")
        other = vectors.register_space(s, name="text", version="b", dim=6, model="m")
        for t in reversed(ids):  # stored against title order
            shot = vectors.VectorRow("shot", 0, np.full(6, -1.0))
            rows = [vectors.VectorRow("title", -1, expected[t]), shot]
            vectors.save_vectors(s, t, space, rows)
        vectors.save_vectors(s, ids[0], other, [vectors.VectorRow("title", -1, np.ones(6))])
    with session_scope(db_url) as s:
        got_ids, matrix = vectors.load_title_matrix(s, vectors.get_space(s, "text", "a"))
    assert got_ids.tolist() == ids and matrix.dtype == np.float32
    unit = np.stack([expected[t] / np.linalg.norm(expected[t]) for t in ids])
    assert np.allclose(matrix, unit, atol=1e-6)  # only this version's title scope


def test_a_vector_of_another_dimension_fails_the_postgresql_load(pg_url: str) -> None:
    from storage import migrate

    migrate.upgrade(pg_url)
    ids = _titles(pg_url, 3)
    with session_scope(pg_url) as s:
        space = vectors.register_space(s, name="style", version="1", dim=4, model="m")
        for t in ids:
            vectors.save_vectors(s, t, space, [vectors.VectorRow("title", -1, np.ones(4))])
        s.add(Embedding(title_id=ids[1], space="style", scope="title", ref_idx=-2,
                        model_version="1", dim=5, vector=vectors.to_bytes(np.ones(5))))  # fmt: skip
    with session_scope(pg_url) as s, pytest.raises(ValueError, match="not 4 float32"):
        vectors.load_title_matrix(s, vectors.get_space(s, "style", "1"))


def test_empty_space_loads_an_empty_matrix(pg_url: str) -> None:
    from storage import migrate

    migrate.upgrade(pg_url)
    with session_scope(pg_url) as s:
        space = vectors.register_space(s, name="style", version="1", dim=4, model="m")
        got_ids, matrix = vectors.load_title_matrix(s, space)
    assert got_ids.shape == (0,) and matrix.shape == (0, 4)
