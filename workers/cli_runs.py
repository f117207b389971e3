"""``coldstart runs | retry | watch``: the runs of titles, their failures and re-runs."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from storage import repository as repo
from storage.db import session_scope
from storage.documents import run_document
from storage.models import RunStatus
from workers.attempts import AttemptRefused, new_attempt
from workers.cli_render import console, err_console, watch_run
from workers.dispatch import dispatch_run
from workers.heartbeat import describe_in_flight

EXIT_FAILED = 1
EXIT_INPUT = 2


def register(app: typer.Typer, prepare) -> None:  # type: ignore[no-untyped-def]
    """Add the commands to ``app``; ``prepare()`` returns schema-checked settings."""

    @app.command()
    def runs(
        failed: Annotated[bool, typer.Option("--failed", help="Only failed runs.")] = False,
        status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
        limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
        json_out: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """List analysis runs, newest first, with their failure reasons."""
        settings = prepare()
        wanted = RunStatus.FAILED if failed else status
        with session_scope(settings.effective_database_url) as session:
            rows = [
                {
                    **run_document(r),
                    "title_id": r.title_id,
                    "title": r.title.name,
                    "in_flight": describe_in_flight(r.stages or {}),
                }
                for r in repo.list_runs(session, status=wanted, limit=limit)
            ]
        if json_out:
            sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
            return
        table = Table(title=f"Runs ({len(rows)})")
        for col in ("run", "title", "status", "attempt", "stage", "progress", "error"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                str(r["id"]),
                f"{r['title_id']} {r['title']}"[:40],
                r["status"],
                str(r["attempt"]),
                "; ".join(r["in_flight"]),
                f"{r['progress'] * 100:.0f}%",
                (r["error"] or "")[:80],
            )
        console.print(table)

    @app.command()
    def retry(
        run: Annotated[int, typer.Argument(help="The run to re-run (usually a failed one).")],
        wait: Annotated[bool, typer.Option(help="Show progress until it ends.")] = False,
        force: Annotated[bool, typer.Option(help="Even if the run has not finished.")] = False,
    ) -> None:
        """Start a new attempt for a run's title. Stages whose results are stored (same
        content and model version) are reused, so only what failed runs again."""
        settings = prepare()
        try:
            new_id = new_attempt(settings, run, force=force)
        except AttemptRefused as err:
            err_console.print(f"[red]error:[/red] {err}")
            raise typer.Exit(EXIT_INPUT) from err
        err_console.print(f"run {new_id}: new attempt of run {run}")
        thread = dispatch_run(settings, new_id)
        if thread is not None or wait:
            doc = watch_run(settings, new_id, is_alive=thread.is_alive if thread else None)
            if thread is not None:
                thread.join()
            if doc["status"] == RunStatus.FAILED:
                err_console.print(f"[red]error:[/red] {doc['error']}")
                raise typer.Exit(EXIT_FAILED)

    @app.command()
    def watch(run: Annotated[int, typer.Argument(help="Run id.")]) -> None:
        """Show a run's live progress (stage, percentage, ETA) until it ends."""
        settings = prepare()
        try:
            doc = watch_run(settings, run)
        except LookupError as err:
            err_console.print(f"[red]error:[/red] {err}")
            raise typer.Exit(EXIT_INPUT) from err
        raise typer.Exit(final_status(run, doc))


def final_status(run_id: int, doc: dict) -> int:  # type: ignore[type-arg]
    """Print how a watched run ended; its exit code (1 when it failed)."""
    code = EXIT_FAILED if doc["status"] == RunStatus.FAILED else 0
    if code:
        err_console.print(f"[red]error:[/red] {doc['error']}")
    err_console.print(f"run {run_id}: {doc['status']} (exit {code})")
    return code
