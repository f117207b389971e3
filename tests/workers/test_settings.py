"""Settings: COLDSTART_* environment over an optional TOML/YAML config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.settings import Settings


def test_defaults_are_the_embedded_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("COLDSTART_CONFIG", "COLDSTART_BROKER_URL", "COLDSTART_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    s = Settings()
    assert s.embedded and s.object_store == "local"
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'var' / 'coldstart.db'}"
    assert s.effective_store_dir == tmp_path / "var" / "objects"


@pytest.mark.parametrize("suffix", [".toml", ".yaml"])
def test_config_file_under_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, suffix: str
) -> None:
    cfg = tmp_path / f"coldstart{suffix}"
    if suffix == ".toml":
        cfg.write_text('broker_url = "redis://r:6379/0"\nobject_store = "s3"\n')
    else:
        cfg.write_text("broker_url: redis://r:6379/0\nobject_store: s3\n")
    monkeypatch.setenv("COLDSTART_CONFIG", str(cfg))
    monkeypatch.setenv("COLDSTART_OBJECT_STORE", "local")
    s = Settings()
    assert s.broker_url == "redis://r:6379/0" and not s.embedded
    assert s.object_store == "local"  # the environment wins over the file


def test_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COLDSTART_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        Settings()
