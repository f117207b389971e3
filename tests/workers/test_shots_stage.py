"""The shots stage wired into the pipeline: ``coldstart ingest`` then ``coldstart show``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from analyzers.shots.synthetic import Join, Segment, build
from storage.objects import read_bytes
from workers.services import derived_store
from workers.settings import Settings

EXE = str(Path(sys.executable).parent / "coldstart")


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLDSTART_DATA_DIR": str(data), "COLDSTART_ENABLED_STAGES": "probe,shots"}
    env.pop("COLDSTART_BROKER_URL", None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=300)


def test_ingest_stores_shots_scenes_keyframes_and_show_lists_them(tmp_path: Path) -> None:
    clip = tmp_path / "cuts.mp4"
    truth = build(
        clip,
        [
            Segment("testsrc2", 40),
            Join(),
            Segment("mandelbrot", 40),
            Join("fade", 12),
            Segment("smptebars", 40),
        ],
        size="160x90",
    )
    data = tmp_path / "var"
    res = _cli(data, "ingest", str(clip), "--external-id", "cuts-1")
    assert res.returncode == 0, res.stderr
    out = _cli(data, "show", "cuts-1", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["latest_run"]["stages"]["shots"]["status"] == "succeeded", doc["latest_run"]
    assert len(doc["shots"]) == 3 and doc["scenes"]
    assert (
        doc["shots"][1]["start_frame"] == truth.cuts[0]
        or abs(doc["shots"][1]["start"] - truth.cuts[0] / 25) < 0.05
    )
    assert len(doc["keyframes"]) == 3
    store = derived_store(Settings(data_dir=data))
    for k in doc["keyframes"]:
        assert read_bytes(store, k["object_key"])[:2] == b"\xff\xd8"
    human = _cli(data, "show", "cuts-1")
    assert "Shots (3)" in human.stdout
