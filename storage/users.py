"""Users of the admin view: accounts, roles and password hashes (hashing is the caller's)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import User, utcnow

ROLES = ("viewer", "editor", "admin")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.email)).all()


def create_user(
    session: Session, *, email: str, name: str, role: str, password_hash: str | None
) -> User:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
    if user_by_email(session, email) is not None:
        raise ValueError(f"a user {normalise_email(email)} already exists")
    user = User(
        email=normalise_email(email),
        name=name,
        role=role,
        password_hash=password_hash,
        password_changed_at=utcnow() if password_hash else None,
        is_active=True,
    )
    session.add(user)
    session.flush()
    return user


def set_password_hash(session: Session, user: User, password_hash: str) -> None:
    user.password_hash = password_hash
    user.password_changed_at = utcnow()


def set_active(session: Session, user: User, active: bool) -> None:
    user.is_active = active


def mark_login(session: Session, user: User) -> None:
    user.last_login_at = utcnow()
