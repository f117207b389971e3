"""Rich rendering of titles and runs for the CLI (kept apart from command wiring)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from storage import repository as repo
from storage.db import session_scope
from storage.documents import run_document
from storage.models import RunStatus
from workers.settings import Settings

console = Console()
err_console = Console(stderr=True)


def watch_run(settings: Settings, run_id: int, *, poll_s: float = 0.5, is_alive=None) -> dict:  # type: ignore[no-untyped-def]
    """Show a live progress bar until the run finishes; returns the final run document."""
    db = settings.effective_database_url
    columns = (
        TextColumn("[bold]{task.fields[stage]:<10}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[eta]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task("run", total=1.0, stage="queued", eta="")
        while True:
            with session_scope(db) as session:
                run = repo.get_run(session, run_id)
                doc = run_document(run) if run else None
            if doc is None:
                raise LookupError(f"run {run_id} not found")
            eta = f"ETA {doc['eta_s']:.0f}s" if doc.get("eta_s") else ""
            progress.update(
                task,
                completed=doc["progress"],
                stage=doc["current_stage"] or doc["status"],
                eta=eta,
            )
            if doc["status"] in RunStatus.FINISHED:
                progress.update(task, completed=doc["progress"], stage=doc["status"], eta="")
                return doc
            if is_alive is not None and not is_alive():
                # The in-process runner ended without recording an end state: re-read once.
                time.sleep(poll_s)
                with session_scope(db) as session:
                    run = repo.get_run(session, run_id)
                    return run_document(run) if run else doc
            time.sleep(poll_s)


def media_table(media: dict[str, Any] | None) -> Table:
    table = Table(title="Media", show_header=False, box=None)
    if not media:
        table.add_row("media", "not probed")
        return table
    table.add_row("container", media["container"])
    table.add_row("duration", f"{media['duration_s']:.2f} s")
    table.add_row("size", f"{media['size_bytes']:,} bytes")
    for v in media.get("video", []):
        vfr = " VFR" if v.get("variable_frame_rate") else ""
        rot = f" rotated {v['rotation']}°" if v.get("rotation") else ""
        depth = f" {v['bit_depth']}-bit" if v.get("bit_depth") else ""
        table.add_row(
            f"video #{v['index']}",
            f"{v['codec']} {v['width']}x{v['height']} @ {v['fps']:.3f} fps{vfr}{rot}{depth}",
        )
    for a in media.get("audio", []):
        lang = f" [{a['language']}]" if a.get("language") else ""
        table.add_row(
            f"audio #{a['index']}", f"{a['codec']} {a['sample_rate']} Hz {a['channels']} ch{lang}"
        )
    for s in media.get("subtitles", []):
        table.add_row(f"subtitle #{s['index']}", f"{s['codec']} {s.get('language') or ''}")
    return table


def run_table(run: dict[str, Any] | None) -> Table:
    title = f"Run {run['id']}: {run['status']}" if run else "No run"
    table = Table(title=title)
    for col in ("stage", "status", "time", "detail"):
        table.add_column(col)
    if not run:
        return table
    for name, st in run["stages"].items():
        detail = st.get("error") or ", ".join(
            f"{k}={v}" for k, v in (st.get("summary") or {}).items() if k != "warnings"
        )
        if st.get("cached"):
            detail = "reused stored result"
        dur = st.get("duration_s")
        table.add_row(name, st.get("status", ""), f"{dur:.2f}s" if dur else "", detail[:100])
    return table


def print_title(doc: dict[str, Any]) -> None:
    t = doc["title"]
    console.print(
        f"[bold]Title {t['id']}[/bold] {t['name']}  [dim]{t['content_sha256'][:16]}[/dim]"
    )
    console.print(f"status: [bold]{t['status']}[/bold]  source: {t['source_uri']}")
    console.print(media_table(doc["media"]))
    run = doc["latest_run"]
    console.print(run_table(run))
    if run and run.get("error"):
        console.print(f"[red]error:[/red] {run['error']}")
    _print_results(doc)


def _print_results(doc: dict[str, Any]) -> None:
    if doc["shots"]:
        table = Table(title=f"Shots ({len(doc['shots'])}) in {len(doc['scenes'])} scenes")
        for col in ("shot", "scene", "start", "end", "keyframe"):
            table.add_column(col)
        keys = {k["shot"]: k["object_key"] for k in doc["keyframes"]}
        for s in doc["shots"][:40]:
            table.add_row(
                str(s["index"]),
                str(s["scene"]),
                f"{s['start_s']:.2f}",
                f"{s['end_s']:.2f}",
                keys.get(s["index"], ""),
            )
        console.print(table)
    if doc["transitions"]:
        gradual = [t for t in doc["transitions"] if t["kind"] != "cut"]
        if gradual:
            console.print(
                "gradual transitions: "
                + ", ".join(f"{t['kind']} {t['start_s']:.2f}-{t['end_s']:.2f}s" for t in gradual)
            )
    transcript = doc["transcript"]
    if transcript["segments"]:
        langs = ", ".join(transcript["languages"])
        console.print(f"[bold]Transcript[/bold] ({len(transcript['segments'])} segments, {langs})")
        for seg in transcript["segments"][:20]:
            console.print(f"  [dim]{seg['start_s']:7.2f}–{seg['end_s']:7.2f}[/dim] {seg['text']}")
    if doc["tags"]:
        table = Table(title="Tags")
        for col in ("facet", "label", "score", "source", "review"):
            table.add_column(col)
        for tag in doc["tags"]:
            score = f"{tag['score']:.2f}" if tag["score"] is not None else ""
            table.add_row(tag["facet"], tag["label"], score, tag["source"], tag["review_state"])
        console.print(table)
    if doc["artifacts"]:
        for kind, art in doc["artifacts"].items():
            console.print(f"artifact {kind}: {art['object_key']}")
