"""Proposals and decisions are stored apart: a re-analysis replaces the model's proposals and
suggestions, and every editor decision survives it, shown over the new proposals, with the
disagreement reported and not applied. SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select, text

from storage import migrate, review, vectors
from storage import repository as repo
from storage.db import engine_for, session_scope
from storage.documents import title_document
from storage.models import AuditEntry, OutboxEvent, SpaceStatus

EDITOR = review.Actor("ed@example.com")


def _title_id(url: str) -> int:
    with session_scope(url) as s:
        title, _ = repo.get_or_create_title(
            s, sha256="b" * 64, size_bytes=1, name="t.mp4", source_uri="t.mp4", source_key="t"
        )
        return title.id


def _analyse(url: str, title_id: int, proposals: list[dict], ratings: list[dict]) -> None:
    """What a tagging run writes: proposals and suggestions, replaced as a whole."""
    with session_scope(url) as s:
        run = repo.create_run(s, repo.get_title(s, title_id))
        review.save_proposals(
            s,
            title_id,
            proposals,
            run_id=run.id,
            model_version="m1",
            taxonomy_version="v1",
            taxonomy_fingerprint="f" * 64,
        )
        review.save_rating_suggestions(
            s, title_id, ratings, run_id=run.id, taxonomy_version="v1", taxonomy_fingerprint="f"
        )


def _tag(facet: str, label: str, score: float, severity: str | None = None) -> dict:
    return {
        "facet": facet,
        "label": label,
        "score": score,
        "severity": severity,
        "evidence": [{"start_s": 1.0, "end_s": 2.0, "signal": "vision", "score": score}],
    }


def _doc_tags(url: str, title_id: int) -> dict[tuple[str, str], dict]:
    with session_scope(url) as s:
        doc = title_document(s, repo.get_title(s, title_id))
    return {(t["facet"], t["label"]): t for t in doc["tags"]}


def test_decisions_survive_reanalysis_and_show_over_new_proposals(db_url: str) -> None:
    tid = _title_id(db_url)
    _analyse(
        db_url,
        tid,
        [_tag("mood", "eerie", 0.8), _tag("mood", "joyful", 0.6), _tag("tone", "dark", 0.7)],
        [{"system": "mpaa", "rating": "PG-13", "min_age": 13, "needs_review": True}],
    )
    with session_scope(db_url) as s:
        review.record_decision(s, tid, facet="mood", label="eerie", action="approve", actor=EDITOR)
        review.record_decision(s, tid, facet="mood", label="joyful", action="reject", actor=EDITOR)
        review.record_decision(s, tid, facet="mood", label="calm", action="add", actor=EDITOR)
        review.record_final_rating(
            s, tid, system="mpaa", rating="PG", reason="mild peril only", actor=EDITOR
        )

    # The re-analysis: eerie is gone, joyful and dark change, a stricter rating appears.
    _analyse(
        db_url,
        tid,
        [_tag("mood", "joyful", 0.9), _tag("tone", "dark", 0.4)],
        [
            {
                "system": "mpaa",
                "rating": "R",
                "min_age": 17,
                "needs_review": True,
                "reasons": ["strong language at 01:12:03"],
            }
        ],
    )
    tags = _doc_tags(db_url, tid)
    assert tags[("mood", "eerie")]["review_state"] == "approved"
    assert tags[("mood", "eerie")]["disagreement"] == "model no longer proposes eerie"
    assert tags[("mood", "joyful")]["review_state"] == "rejected"
    assert "more confident" in tags[("mood", "joyful")]["disagreement"]
    assert tags[("mood", "calm")]["source"] == "editor"
    assert tags[("tone", "dark")]["score"] == pytest.approx(0.4)  # undecided: the new run's
    assert tags[("tone", "dark")]["review_state"] == "pending"

    with session_scope(db_url) as s:
        doc = title_document(s, repo.get_title(s, tid))
        mpaa = next(r for r in doc["ratings"] if r["system"] == "mpaa")
        assert (mpaa["rating"], mpaa["is_final"]) == ("PG", True)
        assert mpaa["suggested"]["rating"] == "R"
        assert mpaa["disagreement"] == "model now suggests R: strong language at 01:12:03"
        assert doc["title"]["final_rating"] == "PG"
        assert next(m for m in doc["maturity"] if m["system"] == "mpaa")["source"] == "editor"
        # The recommender's view drops the rejected label.
        assert ("mood", "joyful") not in {(t.facet, t.label) for t in review.final_tags(s, tid)}
        # Every decision was audited and announced in its own transaction.
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.title_id == tid)).all()
        assert sorted(actions) == ["rating.final", "tag.add", "tag.approve", "tag.reject"]
        topics = s.scalars(select(OutboxEvent.topic).where(OutboxEvent.title_id == tid)).all()
        assert topics.count("title.reviewed") == 3 and topics.count("title.rated") == 1


def test_an_approval_pins_the_severity_the_editor_saw(db_url: str) -> None:
    tid = _title_id(db_url)
    _analyse(db_url, tid, [_tag("maturity", "strong-language", 0.9, "mild")], [])
    with session_scope(db_url) as s:
        review.record_decision(
            s, tid, facet="maturity", label="strong-language", action="approve", actor=EDITOR
        )
    _analyse(db_url, tid, [_tag("maturity", "strong-language", 0.95, "strong")], [])
    tag = _doc_tags(db_url, tid)[("maturity", "strong-language")]
    assert (tag["review_state"], tag["severity"]) == ("approved", "mild")
    assert tag["disagreement"] == "model now suggests strong-language: strong"


def test_a_decision_needs_a_label_to_decide_on(db_url: str) -> None:
    tid = _title_id(db_url)
    with session_scope(db_url) as s, pytest.raises(LookupError):
        review.record_decision(s, tid, facet="mood", label="eerie", action="approve", actor=EDITOR)
    with session_scope(db_url) as s, pytest.raises(ValueError):
        review.record_final_rating(s, tid, system="mpaa", rating="G", reason=" ", actor=EDITOR)


def test_spaces_never_mix_versions_and_flip_atomically(db_url: str) -> None:
    tid = _title_id(db_url)
    with session_scope(db_url) as s:
        v1 = vectors.register_space(
            s, name="style", version="1", dim=4, model="features", status=SpaceStatus.ACTIVE
        )
        v2 = vectors.register_space(s, name="style", version="2", dim=4, model="features")
        vectors.save_vectors(s, tid, v1, [vectors.VectorRow("title", -1, np.array([3, 4, 0, 0]))])
        vectors.save_vectors(s, tid, v2, [vectors.VectorRow("title", -1, np.array([0, 0, 1, 0]))])
        with pytest.raises(ValueError):
            vectors.save_vectors(s, tid, v2, [vectors.VectorRow("title", -1, np.zeros(4))])
    with session_scope(db_url) as s:
        assert vectors.active_space(s, "style").version == "1"
        got = dict(vectors.iter_title_vectors(s, vectors.get_space(s, "style", "1")))
        np.testing.assert_allclose(got[tid], [0.6, 0.8, 0, 0], atol=1e-6)  # L2-normalised
        vectors.activate_space(s, "style", "2")
    with session_scope(db_url) as s:
        assert vectors.active_space(s, "style").version == "2"
        assert vectors.get_space(s, "style", "1").status == SpaceStatus.RETIRED
        got = dict(vectors.iter_title_vectors(s, vectors.active_space(s, "style")))
        np.testing.assert_allclose(got[tid], [0, 0, 1, 0])


def test_upgrade_carries_editor_work_of_the_old_tags_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """0001's one-table layout mixed model output and editor review; 0002 splits it and
    keeps every editor decision."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0001")
    now = "2026-01-01 00:00:00"
    with engine_for(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO titles (id, name, source_uri, source_key, content_sha256, size_bytes,"
                " status, final_rating, created_at, updated_at) VALUES (1, 't', 'u', 'k', :sha,"
                " 1, 'enriched', 'PG', :now, :now)"
            ),
            {"sha": "c" * 64, "now": now},
        )
        for label, source, state in (
            ("eerie", "model", "approved"),
            ("joyful", "model", "pending"),
            ("calm", "editor", "approved"),
        ):
            conn.execute(
                text(
                    "INSERT INTO tags (title_id, facet, label, score, source, review_state,"
                    " evidence, created_at, updated_at) VALUES (1, 'mood', :label, 0.5, :source,"
                    " :state, '{}', :now, :now)"
                ),
                {"label": label, "source": source, "state": state, "now": now},
            )
    migrate.upgrade(url)
    with session_scope(url) as s:
        decisions = {d.label: d.action for d in review.tag_decisions_of(s, 1)}
        assert decisions == {"eerie": "approve", "calm": "add"}
        assert {p.label for p in review.proposals_of(s, 1)} == {"eerie", "joyful"}
        assert title_document(s, repo.get_title(s, 1))["title"]["final_rating"] == "PG"
