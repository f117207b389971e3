"""The ``coldstart`` CLI as a user runs it: a real subprocess on the embedded default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage import repository as repo
from storage.db import session_scope
from storage.models import Keyframe, Shot, TranscriptSegment

EXE = str(Path(sys.executable).parent / "coldstart")


def cli(data_dir: Path, *args: str, extra_env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    env = {**os.environ, "COLDSTART_DATA_DIR": str(data_dir), **(extra_env or {})}
    env.pop("COLDSTART_BROKER_URL", None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=300)


def db(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'coldstart.db').resolve()}"


def test_ingest_show_and_titles(tmp_path: Path, tiny_video: Path) -> None:
    data = tmp_path / "var"
    res = cli(data, "ingest", str(tiny_video), "--external-id", "cat-001")
    assert res.returncode == 0, res.stderr
    doc = json.loads(cli(data, "show", "cat-001", "--json").stdout)
    assert doc["schema_version"] == 1
    assert doc["title"]["status"] == "enriched"
    assert doc["media"]["video"][0]["width"] == 320
    assert doc["latest_run"]["status"] in ("succeeded", "partial")
    assert doc["latest_run"]["stages"]["probe"]["status"] == "succeeded"
    for key in ("shots", "scenes", "keyframes", "transcript", "tags", "maturity", "embeddings"):
        assert key in doc  # stable keys, present even when empty
    listing = json.loads(cli(data, "titles", "--json").stdout)
    assert [t["external_id"] for t in listing] == ["cat-001"]


def test_duplicate_upload_is_one_title_and_one_run(tmp_path: Path, tiny_video: Path) -> None:
    data = tmp_path / "var"
    copy = tmp_path / "same content, other name.mp4"
    copy.write_bytes(tiny_video.read_bytes())
    assert cli(data, "ingest", str(tiny_video)).returncode == 0
    second = cli(data, "ingest", str(copy))
    assert second.returncode == 0
    assert "already known" in second.stderr
    with session_scope(db(data)) as s:
        titles = repo.list_titles(s)
        assert len(titles) == 1 and len(titles[0].runs) == 1
        assert len(titles[0].sources) == 3  # stored copy + both local paths


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty", "empty file"),
        ("random", "not a readable media file"),
        ("truncated", "truncated MP4"),
        ("still", "still image"),
        ("notes", "not a readable media file"),
    ],
)
def test_bad_files_fail_cleanly(
    tmp_path: Path, bad_inputs: dict[str, Path], name: str, reason: str
) -> None:
    data = tmp_path / "var"
    res = cli(data, "ingest", str(bad_inputs[name]))
    assert res.returncode == 1
    error_lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(error_lines) == 1 and reason in error_lines[0]
    assert "Traceback" not in res.stderr + res.stdout
    with session_scope(db(data)) as s:
        (title,) = repo.list_titles(s)
        run = repo.latest_run(s, title.id)
        assert (title.status, run.status) == ("failed", "failed")
        assert reason in run.error and run.error_code
        for model in (Shot, Keyframe, TranscriptSegment):  # nothing half-written
            assert repo.count_rows(s, model, title.id) == 0


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("/no/such/file.mp4", "file not found"),
        ("s3://incoming/../etc/passwd", "'..'"),
        ("local://incoming/a/../../b.mp4", "'..'"),
    ],
)
def test_unusable_sources_create_nothing(tmp_path: Path, source: str, reason: str) -> None:
    data = tmp_path / "var"
    res = cli(data, "ingest", source)
    assert res.returncode == 2
    assert reason in res.stderr and "Traceback" not in res.stderr
    with session_scope(db(data)) as s:
        assert repo.list_titles(s) == []


def test_config_masks_secrets(tmp_path: Path) -> None:
    env = {
        "COLDSTART_S3_SECRET_KEY": "hunter2",
        "COLDSTART_DATABASE_URL": "postgresql://app:pw123@db:5432/coldstart",
    }
    res = cli(tmp_path, "config", "--json", extra_env=env)
    assert res.returncode == 0
    assert "hunter2" not in res.stdout and "pw123" not in res.stdout
    values = json.loads(res.stdout)
    assert values["s3_secret_key"] == "********" and values["mode"] == "embedded"


def test_show_unknown_title(tmp_path: Path) -> None:
    res = cli(tmp_path / "var", "show", "nope")
    assert res.returncode == 2 and "no title matches" in res.stderr
