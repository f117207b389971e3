"""``coldstart export --format parquet|jsonl --since T [--with-vectors SPACE]``: the enriched
catalogue for offline training. Titles are read page by page and written in row groups, so
memory stays flat whatever the catalogue's size."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from storage import catalog
from storage.db import session_scope
from workers.cli_render import err_console, schema_checked_settings

ROW_GROUP = 1000


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """Nested lists as JSON text, so every row group has one schema."""
    return {
        k: (json.dumps(v) if k in ("tags", "ratings", "artwork") else v) for k, v in record.items()
    }


def write_parquet(records: Any, out: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    n = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal writer
        table = pa.Table.from_pylist(batch)
        if writer is None:
            writer = pq.ParquetWriter(out, table.schema)
        writer.write_table(table.cast(writer.schema))
        batch.clear()

    for record in records:
        batch.append(_flat(record))
        n += 1
        if len(batch) >= ROW_GROUP:
            flush()
    if batch:
        flush()
    if writer is not None:
        writer.close()
    return n


def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="file to write")],
    format: Annotated[str, typer.Option("--format", help="parquet or jsonl")] = "jsonl",
    since: Annotated[datetime | None, typer.Option(help="only titles updated since")] = None,
    with_vectors: Annotated[str | None, typer.Option(help="add the active SPACE's vector")] = None,
) -> None:
    """Export titles (final tags, ratings, artwork, optionally vectors)."""
    if format not in ("parquet", "jsonl"):
        err_console.print("[red]error:[/red] --format is parquet or jsonl")
        raise typer.Exit(2)
    with session_scope(schema_checked_settings().effective_database_url) as session:
        records = catalog.export_records(session, since=since, space=with_vectors)
        try:
            if format == "parquet":
                n = write_parquet(records, out)
            else:
                n = 0
                with out.open("w") as fh:
                    for record in records:
                        fh.write(json.dumps(record) + "\n")
                        n += 1
        except LookupError as err:
            err_console.print(f"[red]error:[/red] {err}")
            raise typer.Exit(1) from err
    err_console.print(f"exported {n} titles to {out}")
