"""Sharing installed models through the object store (``workers/model_store.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzers.speech import models as sm
from storage.objects import LocalObjectStore
from workers import model_store


def _fake_ct2(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.bin").write_bytes(b"\x06\x00\x00\x00weights" * 100)
    (folder / "config.json").write_text(json.dumps({"alignment_heads": [[1, 0]]}))
    return folder


def test_push_and_pull_through_the_object_store(tmp_path: Path) -> None:
    local = tmp_path / "models"
    sm.install_from_path(_fake_ct2(tmp_path / "src"), "mini", local)
    store = LocalObjectStore(tmp_path / "store")
    assert model_store.push_model(store, "mini", local) > 0
    assert list(model_store.stored_models(store)) == ["mini"]
    worker_dir = tmp_path / "worker-models"
    pulled = model_store.pull_model(store, "mini", worker_dir)
    assert sm.verify("mini", worker_dir) == []
    assert (pulled.path / "model.bin").read_bytes() == (local / "mini/model.bin").read_bytes()
    # A tampered object in the store is refused, and nothing half-written is left behind.
    (tmp_path / "store/models/speech/mini/model.bin").write_bytes(b"tampered")
    with pytest.raises(sm.ModelError, match="sha256"):
        model_store.pull_model(store, "mini", tmp_path / "other")
    assert not any((tmp_path / "other").glob("mini"))


def test_a_damaged_model_is_never_pushed(tmp_path: Path) -> None:
    local = tmp_path / "models"
    sm.install_from_path(_fake_ct2(tmp_path / "src"), "mini", local)
    (local / "mini" / "model.bin").write_bytes(b"damaged")
    store = LocalObjectStore(tmp_path / "store")
    with pytest.raises(sm.ModelError, match="failed verification"):
        model_store.push_model(store, "mini", local)
    assert list(model_store.stored_models(store)) == []
