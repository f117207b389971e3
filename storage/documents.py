"""The title document: the stable JSON shape of ``coldstart show --json`` and the title API.

Stability contract (docs/title-json.md): keys are only ever added, never renamed or removed;
``schema_version`` changes only for an incompatible change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import repository as repo
from storage.models import AnalysisRun, Embedding, MaturityAssessment, Tag, Title

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
        "final_rating": title.final_rating,
        "created_at": _iso(title.created_at),
        "updated_at": _iso(title.updated_at),
    }


def title_document(session: Session, title: Title) -> dict[str, Any]:
    tid = title.id
    runs = list(title.runs)
    tags = session.scalars(select(Tag).where(Tag.title_id == tid).order_by(Tag.facet, Tag.label))
    maturity = session.scalars(select(MaturityAssessment).where(MaturityAssessment.title_id == tid))
    embeddings = session.scalars(select(Embedding).where(Embedding.title_id == tid))
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
        "tags": [
            {
                "facet": t.facet,
                "label": t.label,
                "score": t.score,
                "source": t.source,
                "review_state": t.review_state,
                "evidence": t.evidence,
                "taxonomy_version": t.taxonomy_version,
            }
            for t in tags
        ],
        "maturity": [
            {
                "system": m.system,
                "rating": m.rating,
                "confidence": m.confidence,
                "descriptors": m.descriptors,
                "source": m.source,
                "is_final": m.is_final,
            }
            for m in maturity
        ],
        "embeddings": [
            {
                "space": e.space,
                "scope": e.scope,
                "ref": e.ref_idx,
                "model_version": e.model_version,
                "dim": e.dim,
            }
            for e in embeddings
        ],
    }
