"""The ``coldstart`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from analyzers.errors import AnalysisError
from storage import migrate
from storage import repository as repo
from storage.db import session_scope
from storage.documents import title_document, title_summary
from storage.objects import InvalidObjectKey
from workers import cli_backfill, cli_fleet, cli_runs
from workers.cli_export import export as export_command
from workers.cli_models import models_app
from workers.cli_render import console, err_console, print_title, watch_run
from workers.cli_tokens import tokens_app
from workers.cli_users import users_app
from workers.dispatch import dispatch_run
from workers.ingest import ingest_file, ingest_object
from workers.schema import SchemaOutOfDate, ensure_schema
from workers.settings import get_settings
from workers.stages.plugins import configure_stages

app = typer.Typer(
    help="coldstart: enrich video titles for cold-start recommendation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(models_app, name="models")
app.add_typer(tokens_app, name="tokens")
app.command("export")(export_command)
app.add_typer(users_app, name="users")

EXIT_FAILED = 1  # the title's run failed
EXIT_INPUT = 2  # the command's input was unusable (missing file, bad key...)


def _fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _prepare():  # type: ignore[no-untyped-def]
    settings = get_settings()
    try:
        ensure_schema(settings)
    except SchemaOutOfDate as err:
        raise _fail(str(err)) from err
    configure_stages(settings)  # plugins and stage selection from the settings
    return settings


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="A file path, or s3://bucket/key.")],
    external_id: Annotated[str | None, typer.Option(help="Your catalogue's id.")] = None,
    wait: Annotated[bool, typer.Option(help="Wait and show progress (fleet mode).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the title as JSON.")] = False,
) -> None:
    """Ingest a title and enrich it. Identical content is recognised and not analysed twice."""
    settings = _prepare()
    try:
        if source.startswith(("s3://", "local://")):
            result = ingest_object(settings, source, external_id=external_id)
        else:
            result = ingest_file(settings, Path(source), external_id=external_id)
    except (AnalysisError, InvalidObjectKey) as err:
        raise _fail(str(err)) from err
    if not result.created_title:
        err_console.print(
            f"already known: title {result.title_id} (same content); run {result.run_id}"
        )
    if result.created_run:
        thread = dispatch_run(settings, result.run_id)
        if thread is not None or wait:
            watch_run(settings, result.run_id, is_alive=thread.is_alive if thread else None)
            if thread is not None:
                thread.join()
        else:
            err_console.print(
                f"queued run {result.run_id} for title {result.title_id}; not waiting (exit 0):"
                f" `coldstart watch {result.run_id}` follows it"
            )
    _show(result.title_id, json_out)
    with session_scope(settings.effective_database_url) as session:
        run = repo.get_run(session, result.run_id)
        if run is not None and run.status == "failed":
            err_console.print(f"[red]error:[/red] {run.error}")
            raise typer.Exit(EXIT_FAILED)


def _show(ref: str | int, json_out: bool) -> None:
    settings = get_settings()
    with session_scope(settings.effective_database_url) as session:
        title = repo.find_title(session, str(ref))
        if title is None:
            raise _fail(f"no title matches {ref!r}")
        doc = title_document(session, title)
    if json_out:
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    else:
        print_title(doc)


@app.command()
def show(
    title: Annotated[str, typer.Argument(help="Title id, external id or sha256 prefix.")],
    json_out: Annotated[
        bool, typer.Option("--json", help="Stable JSON (docs/title-json.md).")
    ] = False,
) -> None:
    """Show a title: media info, runs, shots, scenes, transcript, tags."""
    _prepare()
    _show(title, json_out)


@app.command()
def titles(
    status: Annotated[str | None, typer.Option(help="Only titles with this status.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List titles, newest first."""
    settings = _prepare()
    with session_scope(settings.effective_database_url) as session:
        rows = [title_summary(t) for t in repo.list_titles(session, status=status, limit=limit)]
    if json_out:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title=f"Titles ({len(rows)})")
    for col in ("id", "name", "status", "duration", "sha256"):
        table.add_column(col)
    for t in rows:
        dur = f"{t['duration_s']:.1f}s" if t["duration_s"] else ""
        table.add_row(str(t["id"]), t["name"], t["status"], dur, t["content_sha256"][:12])
    console.print(table)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply the Alembic migrations."""
    settings = get_settings()
    migrate.upgrade(settings.effective_database_url, revision)
    console.print(
        f"database at revision {migrate.current_revision(settings.effective_database_url)}"
    )


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and the code's."""
    url = get_settings().effective_database_url
    console.print(f"database: {migrate.current_revision(url)}  code: {migrate.head_revision()}")


@app.command()
def config(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the effective settings, secrets masked."""
    values = get_settings().masked()
    if json_out:
        sys.stdout.write(json.dumps(values, indent=2) + "\n")
        return
    table = Table(title="Effective settings", show_header=False)
    for key, value in values.items():
        table.add_row(key, str(value))
    console.print(table)


# Fleet and run-management commands live in their own modules.
cli_runs.register(app, _prepare)
cli_fleet.register(app, _prepare)
cli_backfill.register(app, _prepare)


if __name__ == "__main__":
    app()
