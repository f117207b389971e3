"""Audio extraction: track choice, streaming decode, and bad audio."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from ffmpeg import probe as ffmpeg_probe

from analyzers.audio import language_matches, load_audio, select_audio_stream, stream_audio
from analyzers.errors import BadMediaError, StageNotApplicable
from analyzers.probe import AudioStream, MediaInfo, parse_ffprobe, probe
from analyzers.speech.transcribe import SpeechOptions, transcribe_media
from tests.analyzers.speech_media import ffmpeg


def _info(*streams: AudioStream) -> MediaInfo:
    return MediaInfo(
        container="matroska", duration_s=2.0, size_bytes=1, bit_rate=None, audio=list(streams)
    )


ENG = AudioStream(index=1, codec="aac", sample_rate=48000, channels=2, language="eng")
FRE = AudioStream(
    index=2, codec="aac", sample_rate=48000, channels=2, language="fre", is_default=True
)


def test_track_choice_default_first_language_and_index() -> None:
    assert select_audio_stream(_info(ENG, FRE)).index == 2  # the default-flagged one
    assert select_audio_stream(_info(ENG)).index == 1  # else the first
    assert select_audio_stream(_info(ENG, FRE), language="en").index == 1
    assert select_audio_stream(_info(ENG, FRE), language="fr").index == 2
    assert select_audio_stream(_info(ENG, FRE), track=1).index == 1
    with pytest.raises(StageNotApplicable, match="language 'de'"):
        select_audio_stream(_info(ENG, FRE), language="de")
    with pytest.raises(StageNotApplicable, match="stream 7 not found"):
        select_audio_stream(_info(ENG, FRE), track=7)
    assert language_matches("en-US", "en") and language_matches("ger", "de")
    assert not language_matches(None, "en")


def test_no_audio_stream_is_not_applicable(tmp_path: Path) -> None:
    video = tmp_path / "silent_film.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x64:d=1", "-c:v", "libx264", str(video))
    with pytest.raises(StageNotApplicable, match="no audio stream"):
        transcribe_media(video, SpeechOptions())


def test_picks_track_by_language_in_a_real_file(tmp_path: Path) -> None:
    multi = tmp_path / "two_tracks.mkv"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=f=300:d=1",
        "-f",
        "lavfi",
        "-i",
        "sine=f=900:d=1",
        "-map",
        "0",
        "-map",
        "1",
        "-c:a",
        "pcm_s16le",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:1",
        "language=spa",
        str(multi),
    )
    info = probe(multi)
    stream = select_audio_stream(info, language="es")
    audio = load_audio(multi, stream.index)
    # The Spanish track is the 900 Hz tone: count zero crossings to tell them apart.
    crossings = np.count_nonzero(np.diff(np.signbit(audio))) / (audio.size / 16000)
    assert 1700 < crossings < 1900


def test_streaming_yields_bounded_blocks(tmp_path: Path) -> None:
    tone = tmp_path / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=3", str(tone))
    blocks = list(stream_audio(tone, block_samples=8000))
    assert max(b.size for b in blocks) <= 8000
    assert sum(b.size for b in blocks) == 48000


def test_random_bytes_are_bad_media(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(20000))
    with pytest.raises(BadMediaError):
        transcribe_media(junk, SpeechOptions())


def test_truncated_audio_is_bad_media(tmp_path: Path) -> None:
    full = tmp_path / "full.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:d=6",
        "-f",
        "lavfi",
        "-i",
        "color=c=black:s=64x64:d=6",
        "-shortest",
        "-c:a",
        "aac",
        "-c:v",
        "libx264",
        "-movflags",
        "+faststart",
        str(full),
    )
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # header intact, half the samples gone
    with pytest.raises(BadMediaError):
        transcribe_media(cut, SpeechOptions())  # the probe may already notice
    # The decoder check on its own, for files whose headers do not give it away (it comes
    # before any model is loaded):
    info = parse_ffprobe(ffmpeg_probe(str(cut)), cut.stat().st_size)
    with pytest.raises(BadMediaError) as err:
        transcribe_media(cut, SpeechOptions(), info=info)
    assert err.value.code == "truncated_audio"


def test_zero_second_audio_track_is_reported(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    with wave.open(str(empty), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"")
    video = tmp_path / "v.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x64:d=2", "-c:v", "libx264", str(video))
    clip = tmp_path / "zero_audio.mkv"
    ffmpeg(
        "-i",
        str(video),
        "-i",
        str(empty),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "copy",
        "-c:a",
        "pcm_s16le",
        str(clip),
    )
    transcript = transcribe_media(clip, SpeechOptions())
    assert transcript.segments == []
    assert any("empty (0 s)" in w for w in transcript.warnings)
