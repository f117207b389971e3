"""``coldstart models list|install|verify|push``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from workers.cli_models import models_app

runner = CliRunner()


def test_install_list_verify_and_damage(tmp_path: Path) -> None:
    src = tmp_path / "my-model"
    src.mkdir()
    (src / "model.bin").write_bytes(b"weights" * 1000)
    (src / "config.json").write_text(json.dumps({}))
    models = tmp_path / "models"
    res = runner.invoke(models_app, ["install", str(src), "--models-dir", str(models)])
    assert res.exit_code == 0, res.output
    assert "installed my-model (ctranslate2, 2 files)" in res.output
    res = runner.invoke(models_app, ["list", "--models-dir", str(models)])
    assert f"models folder: {models.resolve()}" in res.output and "my-model" in res.output
    assert runner.invoke(models_app, ["verify", "--models-dir", str(models)]).exit_code == 0
    (models / "my-model" / "model.bin").write_bytes(b"weightz" * 1000)
    res = runner.invoke(models_app, ["verify", "my-model", "--models-dir", str(models)])
    assert res.exit_code == 1 and "DAMAGED" in res.output and "sha256" in res.output
    res = runner.invoke(models_app, ["install", "no-such-model", "--models-dir", str(models)])
    assert res.exit_code == 1


def test_push_to_the_store_then_install_from_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLDSTART_DATA_DIR", str(tmp_path / "var"))
    from workers.settings import get_settings

    get_settings.cache_clear()
    src = tmp_path / "m1"
    src.mkdir()
    (src / "model.bin").write_bytes(b"w" * 4096)
    models = tmp_path / "models"
    res = runner.invoke(models_app, ["install", str(src), "--models-dir", str(models)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(models_app, ["push", "m1", "--models-dir", str(models)])
    assert res.exit_code == 0, res.output
    other = tmp_path / "worker2"
    res = runner.invoke(models_app, ["install", "m1", "--from-store", "--models-dir", str(other)])
    assert res.exit_code == 0, res.output
    assert (other / "m1" / "model.bin").read_bytes() == b"w" * 4096
    get_settings.cache_clear()
