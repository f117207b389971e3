"""``coldstart backfill --space NAME``: build the current version of an embedding space for
every title while the active version keeps serving, then flip (see :mod:`workers.backfill`)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from workers import backfill
from workers.cli_render import console
from workers.retag import retag


def register(app: typer.Typer, prepare) -> None:  # type: ignore[no-untyped-def]
    """Add the command to ``app``; ``prepare()`` returns schema-checked settings."""

    @app.command("backfill")
    def backfill_cmd(
        space: Annotated[
            str | None, typer.Option("--space", help="text, profile, style or fused.")
        ] = None,
        taxonomy: Annotated[
            bool,
            typer.Option(
                "--taxonomy",
                help="Re-tag the titles tagged with another taxonomy (after an edit); only "
                "the stages that read it run again. Locked titles are skipped.",
            ),
        ] = False,
        batch: Annotated[int, typer.Option(help="Titles per batch (per task).")] = 100,
        pause: Annotated[float, typer.Option(help="Seconds between titles (throttle).")] = 0.0,
        local: Annotated[
            bool, typer.Option("--local", help="Run here, even with a broker configured.")
        ] = False,
        json_out: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Backfill a space: a new version builds beside the active one and flips when every
        title has a vector. Rerun it to resume: done titles are skipped."""
        settings = prepare()
        if taxonomy == (space is not None):
            console.print("[red]error:[/red] give exactly one of --space NAME or --taxonomy")
            raise typer.Exit(2)
        if taxonomy:
            _retag(settings, json_out)
            return
        assert space is not None
        if settings.broker_url and not local:
            sent = backfill.enqueue(settings, space, batch, pause)
            state = backfill.start(settings, space)
            out = {**state.__dict__, "tasks": sent}
        else:
            out = backfill.run_local(settings, space, batch, pause).__dict__
        if json_out:
            sys.stdout.write(json.dumps(out) + "\n")
            return
        console.print(
            f"{out['name']}@{out['version']}: {out['status']}, {out['lacking']} titles lacking"
            + (f", {out['tasks']} batch tasks sent" if "tasks" in out else "")
        )


def _retag(settings, json_out: bool) -> None:  # type: ignore[no-untyped-def]
    result = retag(settings)
    if json_out:
        sys.stdout.write(json.dumps(result.__dict__) + "\n")
        return
    console.print(
        f"taxonomy {result.taxonomy}: {len(result.runs)} titles re-tagged"
        + (f", {len(result.locked)} locked titles left alone" if result.locked else "")
    )
    for title_id, run_id in result.runs.items():
        status = result.statuses.get(run_id, "queued")
        console.print(f"  title {title_id}: run {run_id} {status}")
