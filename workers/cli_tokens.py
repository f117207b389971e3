"""``coldstart tokens create|revoke|list``: recommender API tokens (scopes: read, export)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from storage import catalog
from storage.db import session_scope
from workers.cli_render import console, err_console, schema_checked_settings

tokens_app = typer.Typer(
    help="Recommender API tokens (scopes: read, export).", no_args_is_help=True
)


@tokens_app.command("create")
def create(
    name: str,
    scope: Annotated[list[str], typer.Option("--scope", help="read and/or export")] = ["read"],  # noqa: B006
    rate_limit: Annotated[int, typer.Option(help="requests per minute")] = 600,
) -> None:
    """Create a token; its plaintext is printed once and never stored."""
    with session_scope(schema_checked_settings().effective_database_url) as session:
        try:
            plaintext, token = catalog.create_token(
                session, name, scope, rate_limit_per_min=rate_limit
            )
        except ValueError as err:
            err_console.print(f"[red]error:[/red] {err}")
            raise typer.Exit(2) from err
        console.print(f"token {token.id} ({token.prefix}…) scopes {','.join(token.scopes)}")
    print(plaintext)


@tokens_app.command("revoke")
def revoke(ref: Annotated[str, typer.Argument(help="token id or prefix")]) -> None:
    """Revoke a token: every API process refuses it within COLDSTART_TOKEN_CACHE_S."""
    with session_scope(schema_checked_settings().effective_database_url) as session:
        token = catalog.revoke_token(session, ref)
        if token is None:
            err_console.print(f"[red]error:[/red] no token {ref!r}")
            raise typer.Exit(1)
        console.print(f"revoked token {token.id} ({token.prefix}…)")


@tokens_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Tokens with their scopes, limits and when each was last used (to the minute)."""
    with session_scope(schema_checked_settings().effective_database_url) as session:
        rows = [
            {
                "id": t.id,
                "name": t.name,
                "prefix": t.prefix,
                "scopes": t.scopes,
                "rate_limit_per_min": t.rate_limit_per_min,
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in catalog.list_tokens(session)
        ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("id", "name", "prefix", "scopes", "limit/min", "last used", "revoked")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["name"],
            r["prefix"],
            ",".join(r["scopes"]),
            str(r["rate_limit_per_min"]),
            (r["last_used_at"] or "never")[:16],
            r["revoked_at"] or "",
        )
    console.print(table)
