"""``coldstart users add|passwd|list|disable``: accounts of the admin review view."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from storage import users
from storage.db import session_scope
from web.auth import hash_password
from workers.cli_render import console, err_console, schema_checked_settings

users_app = typer.Typer(
    help="Admin view accounts (roles: viewer, editor, admin).", no_args_is_help=True
)


def _password(password: str | None) -> str:
    """The password from --password (scripts) or typed twice at a hidden prompt."""
    value = password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return hash_password(value)
    except ValueError as err:
        err_console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err


@users_app.command("add")
def add(
    email: str,
    role: Annotated[str, typer.Option(help="viewer, editor or admin.")] = "editor",
    name: Annotated[str | None, typer.Option(help="Display name (default: the email).")] = None,
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted.")] = None,
) -> None:
    """Create an account that can sign in to the admin view."""
    settings = schema_checked_settings()
    if role not in users.ROLES:
        err_console.print(f"[red]error:[/red] role must be one of {', '.join(users.ROLES)}")
        raise typer.Exit(2)
    hashed = _password(password)
    try:
        with session_scope(settings.effective_database_url) as session:
            user = users.create_user(
                session, email=email, name=name or email, role=role, password_hash=hashed
            )
            console.print(f"user {user.id}: {user.email} ({user.role})")
    except ValueError as err:
        err_console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err


def _user(session, email: str):  # type: ignore[no-untyped-def]
    user = users.user_by_email(session, email)
    if user is None:
        err_console.print(f"[red]error:[/red] no user {email}")
        raise typer.Exit(2)
    return user


@users_app.command("passwd")
def passwd(
    email: str,
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted.")] = None,
) -> None:
    """Set a new password (every session of the account ends)."""
    settings = schema_checked_settings()
    hashed = _password(password)
    with session_scope(settings.effective_database_url) as session:
        users.set_password_hash(session, _user(session, email), hashed)
    console.print(f"password of {email} changed")


@users_app.command("disable")
def disable(email: str) -> None:
    """Disable an account: it can no longer sign in, and its sessions end."""
    settings = schema_checked_settings()
    with session_scope(settings.effective_database_url) as session:
        users.set_active(session, _user(session, email), False)
    console.print(f"{email} disabled")


@users_app.command("list")
def list_(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Accounts, their roles and whether they are active."""
    settings = schema_checked_settings()
    with session_scope(settings.effective_database_url) as session:
        rows = [
            {
                "id": u.id,
                "email": u.email,
                "name": u.name,
                "role": u.role,
                "active": u.is_active,
                "can_sign_in": bool(u.password_hash),
                "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            for u in users.list_users(session)
        ]
    if json_out:
        print(json.dumps(rows, indent=2))
        return
    table = Table("id", "email", "name", "role", "active", "last sign-in")
    for r in rows:
        active = "yes" if r["active"] else "no"
        table.add_row(
            str(r["id"]), r["email"], r["name"], r["role"], active, r["last_login_at"] or "–"
        )
    console.print(table)
