"""Audio arousal cues on generated signals (real pyloudnorm and librosa), and the absent paths."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from analyzers.audio import SAMPLE_RATE, load_audio
from analyzers.signals.audio import Options, analyze
from analyzers.signals.base import SignalResult
from tests.analyzers.speech_media import espeak, music, silence

SR = SAMPLE_RATE


def _quiet_sine(seconds: float = 10.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (0.02 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _loud_hits(seconds: float = 10.0) -> np.ndarray:
    """Noise bursts eight times a second, decaying fast: loud, bright, percussive."""
    t = np.arange(int(SR * seconds)) / SR
    noise = np.random.default_rng(0).normal(0.0, 0.3, t.size)
    return (noise * np.exp(-20 * np.mod(t, 0.125))).astype(np.float32)


def _mean(result: SignalResult, name: str) -> float:
    return float(np.mean([w.scores[name] for w in result.windows]))


def test_loud_fast_noise_scores_above_quiet_sine() -> None:
    calm, loud = analyze(_quiet_sine(), SR, speech=[]), analyze(_loud_hits(), SR, speech=[])
    assert calm.present and loud.present
    assert [(w.start_s, w.end_s) for w in loud.windows] == [(0.0, 5.0), (5.0, 10.0)]
    for name in ("energy", "loudness", "onset_rate", "brightness", "flatness"):
        assert _mean(loud, name) > _mean(calm, name) + 0.3, name
    for w in calm.windows + loud.windows:
        assert all(0.0 <= v <= 1.0 for v in w.scores.values()), w.scores
    # Raw values are kept: a -34 dBFS sine measures about -37 LUFS (K-weighting at 220 Hz).
    assert -42 < calm.windows[0].ref["loudness_lufs"] < -33
    assert calm.windows[0].ref["onset_rate"] == 0.0  # a steady tone has no onsets
    assert "tempo" in loud.windows[0].scores and "tempo" not in calm.windows[0].scores
    assert loud.extras["loudness_lufs"] > calm.extras["loudness_lufs"] + 20
    assert calm.extras["loudness_range_lu"] is not None


def test_silence_music_and_speech_shares(tmp_path: Path) -> None:
    clip = np.concatenate(
        [
            load_audio(silence(tmp_path / "quiet.wav", 5.0)),
            load_audio(music(tmp_path / "music.wav", 5.0)),
            load_audio(
                espeak("The river flows past the old mill by the bridge.", tmp_path / "s.wav")
            )[: SR * 3],
        ]
    )
    speech = [(10.0, 13.0)]  # as the transcript would give it
    result = analyze(clip, SR, speech=speech)
    quiet, chords, talk = result.windows
    assert quiet.scores["silence_share"] > 0.95 and "brightness" not in quiet.scores
    assert chords.scores["music_share"] > 0.8 and chords.scores["speech_share"] == 0.0
    assert talk.scores["speech_share"] > 0.5 and talk.scores["music_share"] < 0.2
    unknown = analyze(clip, SR)
    assert (
        "speech_share" not in unknown.windows[1].scores
        and "speech regions" in unknown.extras["shares"]
    )


def test_no_audio_is_absent() -> None:
    assert analyze(None).absent.reason == "no audio"
    assert not analyze(np.zeros(0, np.float32)).present


def test_sound_events_absent_without_a_classifier() -> None:
    result = analyze(_quiet_sine(2.0), SR, speech=[])
    assert result.present and result.marks == []
    assert "absent" in result.extras["events"]
    result = analyze(_quiet_sine(2.0), SR, Options(events_model="/nonexistent"), speech=[])
    assert "absent" in result.extras["events"]


def test_version_follows_options() -> None:
    assert Options().version() == Options().version() != Options(window_s=10.0).version()


@pytest.mark.parametrize("window_s", [2.0, 5.0])
def test_windows_tile_the_track(window_s: float) -> None:
    result = analyze(_loud_hits(7.0), SR, Options(window_s=window_s), speech=[])
    assert result.windows[0].start_s == 0.0
    assert result.windows[-1].end_s == pytest.approx(7.0)
    assert all(a.end_s == pytest.approx(b.start_s) for a, b in itertools.pairwise(result.windows))
