"""The title document: the stable JSON shape of ``coldstart show --json`` and the title API.

Stability contract (docs/title-json.md): keys are only ever added, never renamed or removed;
``schema_version`` changes only for an incompatible change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, object_session

from storage import repository as repo
from storage import review, vectors
from storage.models import AnalysisRun, Title

SCHEMA_VERSION = 1


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def run_document(run: AnalysisRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "attempt": run.attempt,
        "progress": round(run.progress or 0.0, 4),
        "current_stage": run.current_stage,
        "eta_s": run.eta_s,
        "error": run.error,
        "error_code": run.error_code,
        "stages": run.stages or {},
        "model_versions": run.model_versions or {},
        "taxonomy_version": run.taxonomy_version,
        "cost": run.cost or {},
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
    }


def final_rating(session: Session | None, title_id: int) -> str | None:
    """``title.final_rating``: the editor's final rating of the first system decided
    (derived from the rating decisions; ``null`` until an editor sets one)."""
    if session is None:
        return None
    decided = [r for r in review.final_ratings(session, title_id) if r.is_final]
    decided.sort(key=lambda r: (r.decision or {}).get("decided_at") or "")
    return decided[0].rating if decided else None


def title_summary(title: Title) -> dict[str, Any]:
    return {
        "id": title.id,
        "external_id": title.external_id,
        "name": title.name,
        "status": title.status,
        "content_sha256": title.content_sha256,
        "size_bytes": title.size_bytes,
        "duration_s": title.duration_s,
        "source_uri": title.source_uri,
        "final_rating": final_rating(object_session(title), title.id),
        "locked_by": title.locked_by,
        "created_at": _iso(title.created_at),
        "updated_at": _iso(title.updated_at),
    }


def title_document(session: Session, title: Title) -> dict[str, Any]:
    tid = title.id
    runs = list(title.runs)
    tags = review.final_tags(session, tid, include_rejected=True)
    ratings = review.final_ratings(session, tid)
    spaces = {(s.name, s.version): s for s in vectors.list_spaces(session)}
    embeddings = vectors.embeddings_of(session, tid)
    profile = review.profile_of(session, tid)
    segments = repo.transcript_of(session, tid)
    return {
        "schema_version": SCHEMA_VERSION,
        "title": title_summary(title),
        "sources": [s.uri for s in title.sources],
        "media": title.media_info,
        "latest_run": run_document(runs[-1]) if runs else None,
        "runs": [run_document(r) for r in runs],
        "shots": [
            {
                "index": s.idx,
                "start_frame": s.start_frame,
                "end_frame": s.end_frame,
                "start_s": s.start_s,
                "end_s": s.end_s,
                "scene": s.scene_idx,
                "features": s.features,
            }
            for s in repo.shots_of(session, tid)
        ],
        "transitions": [
            {
                "kind": t.kind,
                "start_frame": t.start_frame,
                "end_frame": t.end_frame,
                "start_s": t.start_s,
                "end_s": t.end_s,
                "confidence": t.confidence,
            }
            for t in repo.transitions_of(session, tid)
        ],
        "scenes": [
            {
                "index": s.idx,
                "first_shot": s.first_shot,
                "last_shot": s.last_shot,
                "start_s": s.start_s,
                "end_s": s.end_s,
                "summary": s.summary,
            }
            for s in repo.scenes_of(session, tid)
        ],
        "keyframes": [
            {
                "shot": k.shot_idx,
                "frame": k.frame,
                "time_s": k.time_s,
                "object_key": k.object_key,
                "thumb_key": k.thumb_key,
                "width": k.width,
                "height": k.height,
                "sharpness": k.sharpness,
            }
            for k in repo.keyframes_of(session, tid)
        ],
        "transcript": {
            "text": " ".join(s.text.strip() for s in segments).strip(),
            "languages": sorted({s.language for s in segments if s.language}),
            "segments": [
                {
                    "index": s.idx,
                    "start_s": s.start_s,
                    "end_s": s.end_s,
                    "text": s.text,
                    "language": s.language,
                    "avg_logprob": s.avg_logprob,
                    "no_speech_prob": s.no_speech_prob,
                    "words": s.words,
                }
                for s in segments
            ],
        },
        "artifacts": {
            a.kind: {"object_key": a.object_key, "content_type": a.content_type}
            for a in repo.list_artifacts(session, tid)
        },
        # Decisions over proposals; a rejected label stays listed with its state.
        "tags": [
            {
                "facet": t.facet,
                "label": t.label,
                "score": t.score,
                "source": t.source,
                "review_state": t.review_state,
                "evidence": t.evidence,
                "taxonomy_version": t.taxonomy_version,
                "severity": t.severity,
                "model_score": t.model_score,
                "decided_by": t.decided_by,
                "decided_at": t.decided_at,
                "disagreement": t.disagreement,
            }
            for t in tags
        ],
        "maturity": [
            {
                "system": r.system,
                "rating": r.rating,
                "confidence": r.confidence,
                "descriptors": (r.suggested or {}).get("drivers", []),
                "source": "editor" if r.is_final else "model",
                "is_final": r.is_final,
                "min_age": r.min_age,
                "needs_review": r.needs_review,
            }
            for r in ratings
        ],
        "ratings": [r.to_dict() for r in ratings],
        # Every emotional beat: per-scene scores of every mood and tone label.
        "mood_arc": profile.arc if profile else None,
        "artwork": profile.artwork if profile else [],
        "descriptors": profile.descriptors if profile else {},
        "signals": {
            "versions": profile.signals if profile else {},
            "absent": profile.absent if profile else {},
        },
        "embeddings": [
            {
                "space": e.space,
                "scope": e.scope,
                "ref": e.ref_idx,
                "model_version": e.model_version,
                "dim": e.dim,
                "status": getattr(spaces.get((e.space, e.model_version)), "status", None),
            }
            for e in embeddings
        ],
        # One entry per space the title has a title vector in; for fused, its parts.
        "embedding_spaces": [
            {
                "space": e.space,
                "version": e.model_version,
                "dim": e.dim,
                "status": getattr(spaces.get((e.space, e.model_version)), "status", None),
                "parts_present": (e.info or {}).get("present"),
                "parts_absent": (e.info or {}).get("absent") if e.scope == "title" else None,
                # why the title has no vector in this space version (no transcript...)
                "absent": (e.info or {}).get("absent") if e.scope == "absent" else None,
            }
            for e in embeddings
            if e.scope in ("title", "absent")
        ],
    }
