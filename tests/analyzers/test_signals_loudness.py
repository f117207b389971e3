"""EBU R128 loudness in one K-weighting pass against pyloudnorm's own meter (the reference
implementation the audio signal used before), on generated signals."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from analyzers.signals.loudness import measure

SR = 16000


def _signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    t = np.arange(SR * 12) / SR
    swell = 0.3 * np.sin(2 * np.pi * 440 * t) * np.linspace(0.01, 1.0, t.size)
    bursts = rng.normal(0.0, 0.2, t.size) * (np.mod(t, 2.0) < 0.5)
    return {
        "swelling tone": swell.astype(np.float32),
        "noise bursts and gaps": bursts.astype(np.float32),
        "quiet noise": rng.normal(0.0, 0.003, SR * 5).astype(np.float32),
        "two seconds": swell[: SR * 2].astype(np.float32),
        "odd length": bursts[: SR * 4 + 123].astype(np.float32),
    }


@pytest.mark.parametrize("name", list(_signals()))
def test_loudness_and_range_match_pyloudnorm(name: str) -> None:
    x = _signals()[name]
    meter = pyloudnorm.Meter(SR)
    ref_lufs = meter.integrated_loudness(x)
    ref_lra = meter.loudness_range(x) if x.size >= 3 * SR else float("nan")
    lufs, lra = measure(x, SR)
    assert lufs == pytest.approx(ref_lufs, abs=1e-4)
    if np.isnan(ref_lra):
        assert np.isnan(lra)
    else:
        assert lra == pytest.approx(ref_lra, abs=1e-4)
    if name == "swelling tone":  # 40 dB of swell: a wide range, unlike the steady noise
        assert lra > 10.0 > measure(_signals()["quiet noise"], SR)[1]


def test_silence_and_slivers_have_no_loudness() -> None:
    assert measure(np.zeros(SR * 5, np.float32), SR)[0] == float("-inf")
    assert np.isnan(measure(np.zeros(SR * 5, np.float32), SR)[1])
    lufs, lra = measure(np.full(SR // 4, 0.1, np.float32), SR)  # shorter than a 400 ms block
    assert lufs == float("-inf") and np.isnan(lra)
    # Asked without the range, or too short for a 3 s block: loudness alone.
    tone = (0.1 * np.sin(np.arange(SR * 2) / 10)).astype(np.float32)
    assert np.isfinite(measure(tone, SR)[0]) and np.isnan(measure(tone, SR)[1])
    assert np.isnan(measure(np.tile(tone, 3), SR, with_range=False)[1])
