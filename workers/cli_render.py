"""Rich rendering of titles and runs for the CLI (kept apart from command wiring)."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from storage import repository as repo
from storage.db import session_scope
from storage.documents import run_document
from storage.models import RunStatus
from workers.heartbeat import describe_in_flight
from workers.schema import SchemaOutOfDate, ensure_schema
from workers.settings import Settings, get_settings

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
                # every stage in flight, its heartbeat's age, or the loss and re-queue
                stage="; ".join(describe_in_flight(doc["stages"])) or doc["status"],
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
    _print_tags(doc)
    if doc["artifacts"]:
        for kind, art in doc["artifacts"].items():
            console.print(f"artifact {kind}: {art['object_key']}")


def _clock(seconds: float) -> str:
    m, sec = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{sec:02d}" if m >= 60 else f"{m}:{sec:02d}"


def _print_tags(doc: dict[str, Any]) -> None:
    """Tags by facet with their evidence times, the mood arc, the ratings with reasons
    and the signals that were absent."""
    for facet in ("mood", "tone", "maturity"):
        tags = [t for t in doc["tags"] if t["facet"] == facet]
        if not tags:
            continue
        table = Table(title=f"{facet.capitalize()} tags")
        for col in ("label", "score", "severity", "state", "evidence"):
            table.add_column(col)
        for tag in tags:
            score = f"{tag['score']:.2f}" if tag["score"] is not None else ""
            times = ", ".join(
                f"{_clock(e['start_s'])}–{_clock(e['end_s'])} {e.get('signal', '')}"
                for e in (tag["evidence"] or [])[:4]
            )
            state = tag["review_state"]
            if tag["source"] != "model":
                state += f" ({tag['source']})"
            if tag.get("disagreement"):
                state += f"; {tag['disagreement']}"
            table.add_row(tag["label"], score, tag.get("severity") or "", state, times)
        console.print(table)
    arc = doc.get("mood_arc") or {}
    if arc.get("scenes") and arc.get("mood"):
        console.print("[bold]Mood arc[/bold] (leading moods per scene)")
        for i, scene in enumerate(arc["scenes"][:40]):
            scores = {
                label: values[i] for label, values in arc["mood"].items() if values[i] is not None
            }
            top = sorted(scores.items(), key=lambda kv: -kv[1])[:3]
            beats = ", ".join(f"{label} {score:.2f}" for label, score in top)
            console.print(
                f"  scene {scene['index']:>3} {_clock(scene['start_s'])}–{_clock(scene['end_s'])}"
                f"  {beats}"
            )
    for rating in doc.get("ratings", []):
        final = "final" if rating["is_final"] else "suggested"
        review = ", needs review" if rating["needs_review"] else ""
        console.print(
            f"[bold]Rating {rating['system']}[/bold]: {rating['rating']} ({final}{review})"
        )
        reasons = (rating.get("suggested") or {}).get("reasons", [])
        for reason in reasons[:6]:
            console.print(f"  - {reason}")
        if len(reasons) > 6:
            console.print(f"  - and {len(reasons) - 6} more")
        if rating.get("disagreement"):
            console.print(f"  [yellow]{rating['disagreement']}[/yellow]")
    absent = (doc.get("signals") or {}).get("absent") or {}
    for name, reason in sorted(absent.items()):
        console.print(f"[yellow]absent signal[/yellow] {name}: {reason}")


def schema_checked_settings() -> Settings:
    """The settings, once the database schema is known to be current; exit 2 with the
    reason otherwise (the CLI's input-error code)."""
    settings = get_settings()
    try:
        ensure_schema(settings)
    except SchemaOutOfDate as err:
        err_console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    return settings
