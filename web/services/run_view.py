"""The run page's view model: one row per stage with its status, timing, cost and messages."""

from __future__ import annotations

from typing import Any

from storage.documents import run_document
from storage.models import AnalysisRun


def build(run: AnalysisRun) -> dict[str, Any]:
    doc = run_document(run)
    cost = doc["cost"] or {}
    stages = []
    for name, entry in (doc["stages"] or {}).items():
        entry = entry if isinstance(entry, dict) else {}
        warnings = entry.get("warnings") or []
        stages.append(
            {
                "name": name,
                "status": entry.get("status", "pending"),
                "duration_s": entry.get("duration_s"),
                "progress": entry.get("progress"),
                "started_at": entry.get("started_at"),
                "finished_at": entry.get("finished_at"),
                "cost": cost.get(name),
                "warnings": warnings if isinstance(warnings, list) else [warnings],
                "error": entry.get("error"),
                "cached": entry.get("cached"),
            }
        )
    return {"run": doc, "title": run.title, "stages": stages, "cost": cost}
