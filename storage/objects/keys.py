"""Object key validation: every key that reaches a store passes through :func:`validate_key`."""

from __future__ import annotations

import re
import unicodedata

MAX_KEY_BYTES = 1024  # S3's limit


class InvalidObjectKey(ValueError):
    """A key that could escape the store, confuse tools, or exceed S3's limits."""

    code = "invalid_key"


def validate_key(key: str) -> str:
    """Return ``key`` if it is safe, else raise :class:`InvalidObjectKey` saying why."""
    if not key:
        raise InvalidObjectKey("object key is empty")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidObjectKey(f"object key is longer than {MAX_KEY_BYTES} bytes")
    if any(unicodedata.category(ch) == "Cc" for ch in key):
        raise InvalidObjectKey(f"object key contains a control character: {key!r}")
    if key.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", key):
        raise InvalidObjectKey(f"object key is an absolute path: {key!r}")
    if "\\" in key:
        raise InvalidObjectKey(f"object key contains a backslash: {key!r}")
    parts = key.split("/")
    if any(p in ("..", ".") for p in parts):
        raise InvalidObjectKey(f"object key contains a '..' or '.' segment: {key!r}")
    if any(p == "" for p in parts[:-1]):
        raise InvalidObjectKey(f"object key contains an empty segment: {key!r}")
    return key


def safe_name(name: str, max_len: int = 120) -> str:
    """A filename reduced to characters safe in any store and shell; keeps the extension."""
    name = unicodedata.normalize("NFKC", name).rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"
    if len(cleaned) > max_len:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (stem[: max_len - len(ext) - 1] + dot + ext) if dot else cleaned[:max_len]
    return cleaned
