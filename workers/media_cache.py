"""The title's media as a local file on this worker, downloaded once and shared by the
stage tasks that run here (several stages of one title usually land on the same worker).

Files are content-addressed (``<work_dir>/media/<sha256>/<name>``), written atomically and
checked against the title's hash; the least recently used are evicted beyond the budget.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from analyzers.errors import BadMediaError
from storage.objects import download, safe_name
from workers.services import store_for_uri
from workers.settings import Settings


def media_dir(settings: Settings) -> Path:
    return settings.effective_work_dir / "media"


def local_media(settings: Settings, source_uri: str, sha256: str) -> Path:
    """A local path holding the title's bytes (the store's own file when it has one)."""
    store, key = store_for_uri(settings, source_uri)
    direct = store.local_path(key)
    if direct is not None and direct.is_file():
        return direct
    dest = media_dir(settings) / sha256 / safe_name(Path(key).name)
    if dest.is_file():
        os.utime(dest)  # LRU clock
        return dest
    _evict(media_dir(settings), int(settings.media_cache_gb * 1024**3), keep=sha256)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # A private temporary name: prefork siblings may download the same title at once.
    tmp_dir = Path(tempfile.mkdtemp(prefix=".dl-", dir=dest.parent))
    try:
        info = download(store, key, tmp_dir / dest.name)
        if info.sha256 != sha256:
            raise BadMediaError(
                f"source object changed since ingestion (sha256 {info.sha256[:12]}…, "
                f"expected {sha256[:12]}…): re-upload it as a new title",
                code="source_changed",
            )
        os.replace(tmp_dir / dest.name, dest)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return dest


def _evict(root: Path, budget: int, keep: str) -> None:
    if not root.is_dir():
        return
    files = [p for p in root.glob("*/*") if p.is_file() and p.parent.name != keep]
    total = sum(p.stat().st_size for p in files)
    for path in sorted(files, key=lambda p: p.stat().st_mtime):
        if total <= budget:
            break
        # Only files idle for a minute: a sibling process may be about to open this one.
        if time.time() - path.stat().st_mtime < 60:
            continue
        total -= path.stat().st_size
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: another file of the title
            path.parent.rmdir()
