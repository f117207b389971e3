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


def _lines_for(output: str, name: str) -> list[str]:
    """The model's row and the enables/disables row under it."""
    lines = output.splitlines()
    i = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
    return lines[i : i + 2]


def test_list_shows_every_model_with_its_state_and_what_a_missing_one_disables(
    tmp_path: Path,
) -> None:
    from analyzers.models import REGISTRY

    empty = tmp_path / "models"
    res = runner.invoke(
        models_app,
        ["list", "--models-dir", str(empty), "--vision-model", str(tmp_path / "no-clip")],
    )
    assert res.exit_code == 0, res.output
    for name in REGISTRY:
        assert _lines_for(res.output, name), name
    for name in ("tiny.en", "transnetv2", "nudenet", "minilm"):
        row, effect = _lines_for(res.output, name)
        assert row.split()[2] == "present" and effect.strip().startswith("enables:"), row
    row, effect = _lines_for(res.output, "vision-language")
    assert row.split()[2] == "missing" and "no such folder" in row
    assert effect.strip() == "disables: vision-language tags and visual embeddings: absent"
    assert "missing: " in res.output.splitlines()[-1]
    assert "vision-language: vision-language tags" in res.output.splitlines()[-1]


def test_list_and_verify_a_tiny_random_clip_by_local_path(tmp_path: Path) -> None:
    """A tiny randomly initialised CLIP stands in for real vision weights (none ship offline)."""
    from analyzers.encoders.random_clip import save_random_clip

    clip = save_random_clip(tmp_path / "clip", "tiny")
    args = ["--models-dir", str(tmp_path / "models"), "--vision-model", str(clip)]
    res = runner.invoke(models_app, ["list", *args])
    row, effect = _lines_for(res.output, "vision-language")
    assert row.split()[2] == "present" and str(clip) in row
    assert effect.strip().startswith("enables: vision-language tags")
    res = runner.invoke(models_app, ["verify", "vision-language", "nudenet", *args])
    assert res.exit_code == 0, res.output
    assert "vision-language: ok" in res.output and "nudenet: ok" in res.output
    (clip / "model.safetensors").unlink()
    res = runner.invoke(models_app, ["verify", "vision-language", *args])
    assert res.exit_code == 1 and "vision-language: damaged" in res.output


def test_install_of_a_packaged_model_says_where_it_is_or_what_is_lost(tmp_path: Path) -> None:
    args = ["--models-dir", str(tmp_path / "models")]
    res = runner.invoke(models_app, ["install", "nudenet", *args])
    assert res.exit_code == 0 and "nudenet is present" in res.output and "320n.onnx" in res.output
    res = runner.invoke(
        models_app, ["install", "vision-language", *args, "--vision-model", "org/not-cached"]
    )
    assert res.exit_code == 1
    assert "not in the local Hugging Face cache" in res.output
    assert "vision-language tags and visual embeddings: absent" in res.output
