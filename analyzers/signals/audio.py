"""Audio arousal and energy cues per time window; violent sound events where a classifier is
installed.

Input is the title's mono float32 audio (as ``analyzers.audio.load_audio`` decodes it, 16 kHz)
and, optionally, the speech regions (transcript segments or VAD). The track is processed one
window at a time (default 5 s), so memory stays bounded by a window's STFT.

Scores per window, each normalised to [0, 1] by clipping a raw value linearly into the range
below (raw values are in ``Window.ref``):

| score          | raw value                                                  | 0 -> 1          |
|----------------|------------------------------------------------------------|-----------------|
| loudness       | EBU R128 integrated loudness of the window (``loudness``)  | -50 -> -10 LUFS |
| loudness_range | EBU Tech 3342 loudness range (3 s blocks; windows >= 3 s)  | 0 -> 20 LU      |
| energy         | mean frame RMS level                                       | -60 -> -10 dBFS |
| dynamics       | standard deviation of the audible frames' RMS level        | 0 -> 15 dB      |
| onset_rate     | librosa onsets per second                                  | 0 -> 8 /s       |
| tempo          | librosa tempo estimate (only with >= 4 onsets)             | 60 -> 180 BPM   |
| brightness     | mean spectral centroid of audible frames                   | 300 -> 4000 Hz  |
| flatness       | log10 of mean spectral flatness of audible frames          | -4 -> 0         |
| silence_share  | share of frames below the track's audible threshold        | share           |
| speech_share   | share of audible frames inside the given speech regions    | share           |
| music_share    | share of audible frames outside speech that are tonal      | share           |

A silent window has loudness and energy 0 (silence is a measurement), but no tempo,
brightness or flatness (undefined without sound). The audible threshold is the speech VAD's
(``vad.audible_threshold``: the track's floor plus a margin). Music is a heuristic: a frame is
tonal when its spectral flatness is below ``Options.tonal_flatness`` (harmonic sound, unlike
noise, effects or rain); speech frames are told apart only by the regions passed in, so
without them ``speech_share`` and ``music_share`` are left out (noted in ``extras``).

Sound events (gunshot, explosion, screaming) come from an optional AudioSet classifier behind
:class:`EventBackend` (YAMNet through TensorFlow with a local model path); when none is
installed or configured, ``extras["events"]`` says why and no event is claimed either way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from analyzers.audio import rms_db
from analyzers.signals import loudness
from analyzers.signals.base import Mark, SignalResult, Window

SIGNAL = "audio"
_VERSION = "2"  # 2: one K-weighting pass and one spectrogram per window

# (low, high) of each raw value, mapped linearly onto [0, 1] and clipped (see module doc).
RANGES: dict[str, tuple[float, float]] = {
    "loudness": (-50.0, -10.0),
    "loudness_range": (0.0, 20.0),
    "energy": (-60.0, -10.0),
    "dynamics": (0.0, 15.0),
    "onset_rate": (0.0, 8.0),
    "tempo": (60.0, 180.0),
    "brightness": (300.0, 4000.0),
    "flatness": (-4.0, 0.0),
}
LRA_MIN_S = 3.0
EVENT_LABELS = ("Gunshot, gunfire", "Explosion", "Screaming")


@dataclass(frozen=True)
class Options:
    window_s: float = 5.0
    n_fft: int = 1024
    hop: int = 512
    tonal_flatness: float = 0.05  # below: harmonic (music or voice); above: noise-like
    # Onset strength (mean positive log-mel flux, dB) below which a peak is a ripple: librosa
    # normalises peaks per envelope, so a steady tone would otherwise "have" onsets.
    onset_min_strength: float = 1.0
    events_model: str | None = None  # local YAMNet SavedModel directory, optional
    event_threshold: float = 0.3

    def version(self) -> str:
        data = json.dumps([_VERSION, asdict(self), RANGES], sort_keys=True)
        return f"{_VERSION}-{hashlib.sha256(data.encode()).hexdigest()[:12]}"


class EventBackend(Protocol):
    """An AudioSet-style sound-event classifier."""

    name: str

    def events(
        self, audio: np.ndarray, sample_rate: int, labels: Sequence[str]
    ) -> list[tuple[float, float, str, float]]:
        """(start_s, end_s, label, score) for every frame where one of ``labels`` scores."""
        ...


class YamnetBackend:
    """YAMNet (Apache-2.0) from a local TensorFlow SavedModel; loaded on first use."""

    name = "yamnet"
    frame_hop_s = 0.48

    def __init__(self, path: str) -> None:
        self.path = path
        self._model: Any = None
        self._classes: list[str] = []

    def _load(self) -> None:
        import csv

        import tensorflow as tf

        self._model = tf.saved_model.load(self.path)
        with open(self._model.class_map_path().numpy().decode()) as fh:
            self._classes = [row["display_name"] for row in csv.DictReader(fh)]

    def events(
        self, audio: np.ndarray, sample_rate: int, labels: Sequence[str]
    ) -> list[tuple[float, float, str, float]]:
        if self._model is None:
            self._load()
        if sample_rate != 16000:
            import librosa

            audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=16000)
        scores = self._model(audio.astype(np.float32))[0].numpy()
        out = []
        for label in labels:
            col = self._classes.index(label)
            for i, score in enumerate(scores[:, col]):
                t = i * self.frame_hop_s
                out.append((t, t + 0.96, label, float(score)))
        return out


def load_event_backend(options: Options) -> tuple[EventBackend | None, str]:
    """The configured sound-event classifier, or None and why not."""
    if not options.events_model:
        return None, "no sound-event classifier configured (YAMNet is optional)"
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return None, "tensorflow is not installed (needed for YAMNet)"
    return YamnetBackend(options.events_model), ""


def _norm(name: str, value: float) -> float:
    low, high = RANGES[name]
    return float(np.clip((value - low) / (high - low), 0.0, 1.0))


def _covered(times: np.ndarray, regions: Sequence[tuple[float, float]]) -> np.ndarray:
    """Whether each time falls in one of ``regions`` (start inclusive, end exclusive)."""
    if not len(regions):
        return np.zeros(times.size, dtype=bool)
    bounds = np.asarray(regions, dtype=np.float64).reshape(-1, 2)
    return ((times[:, None] >= bounds[:, 0]) & (times[:, None] < bounds[:, 1])).any(axis=1)


@lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int) -> np.ndarray:
    """librosa's default mel filters for onset strength (128 bands up to Nyquist)."""
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, fmax=0.5 * sr)


def _window_cues(
    x: np.ndarray,
    sr: int,
    t0: float,
    threshold_db: float,
    speech: Sequence[tuple[float, float]] | None,
    options: Options,
) -> tuple[dict[str, float], dict[str, Any]]:
    import librosa

    hop, n_fft = options.hop, options.n_fft
    rms = librosa.feature.rms(y=x, frame_length=n_fft, hop_length=hop, center=True)[0]
    level = 20.0 * np.log10(np.maximum(rms, 1e-5))
    audible = level > threshold_db
    raw: dict[str, Any] = {"energy_dbfs": float(10 * np.log10(max(np.mean(rms**2), 1e-10)))}
    scores = {"energy": _norm("energy", raw["energy_dbfs"])}
    # One K-weighting pass gives both loudness measures (Tech 3342 works on 3 s blocks:
    # a shorter window has no range).
    ranged = x.size >= LRA_MIN_S * sr
    lufs, lra = loudness.measure(x, sr, with_range=ranged)
    raw["loudness_lufs"] = float(lufs) if np.isfinite(lufs) else None
    scores["loudness"] = _norm("loudness", lufs) if np.isfinite(lufs) else 0.0
    if ranged:
        raw["loudness_range_lu"] = float(lra) if np.isfinite(lra) else None
        scores["loudness_range"] = _norm("loudness_range", lra) if np.isfinite(lra) else 0.0
    raw["dynamics_db"] = float(np.std(level[audible])) if audible.sum() > 1 else 0.0
    scores["dynamics"] = _norm("dynamics", raw["dynamics_db"])

    # One power spectrogram serves onset strength (through the mel bands, as librosa's
    # onset_strength computes them), brightness, flatness and the music share.
    spec = np.abs(librosa.stft(x, n_fft=n_fft, hop_length=hop)) ** 2
    mel_db = librosa.power_to_db(_mel_basis(sr, n_fft) @ spec)
    env = librosa.onset.onset_strength(S=mel_db, sr=sr, hop_length=hop, n_fft=n_fft)
    onsets = librosa.onset.onset_detect(onset_envelope=env, sr=sr, hop_length=hop)
    # Onsets in silence or too weak to hear are numerical noise.
    onsets = onsets[onsets < audible.size]
    onsets = onsets[audible[onsets] & (env[onsets] >= options.onset_min_strength)]
    raw["onset_rate"] = onsets.size / (x.size / sr)
    scores["onset_rate"] = _norm("onset_rate", raw["onset_rate"])
    if onsets.size >= 4:
        raw["tempo_bpm"] = float(
            librosa.feature.tempo(onset_envelope=env, sr=sr, hop_length=hop)[0]
        )
        scores["tempo"] = _norm("tempo", raw["tempo_bpm"])

    frames = audible.size
    silence = 1.0 - float(audible.mean()) if frames else 1.0
    scores["silence_share"] = silence
    if audible.any():
        centroid = librosa.feature.spectral_centroid(S=spec, sr=sr, n_fft=n_fft)[0]
        flat = librosa.feature.spectral_flatness(S=spec, power=1.0)[0]
        raw["brightness_hz"] = float(np.mean(centroid[audible]))
        raw["flatness"] = float(np.mean(flat[audible]))
        scores["brightness"] = _norm("brightness", raw["brightness_hz"])
        scores["flatness"] = _norm("flatness", float(np.log10(max(raw["flatness"], 1e-10))))
    if speech is not None:
        times = t0 + librosa.frames_to_time(np.arange(frames), sr=sr, hop_length=hop)
        in_speech = _covered(times, speech) & audible
        scores["speech_share"] = float(in_speech.mean()) if frames else 0.0
        if audible.any():
            tonal = flat < options.tonal_flatness
            scores["music_share"] = float((audible & ~in_speech & tonal).mean())
        else:
            scores["music_share"] = 0.0
    return scores, raw


def analyze(
    audio: np.ndarray | None,
    sample_rate: int = 16000,
    options: Options | None = None,
    *,
    speech: Sequence[tuple[float, float]] | None = None,
    events: EventBackend | None = None,
) -> SignalResult:
    """Per-window audio cues of ``audio`` (mono). ``speech``: speech regions in seconds
    (transcript segments or VAD); ``[]`` means "no speech", ``None`` "unknown"."""
    options = options or Options()
    version = options.version()
    if audio is None or audio.size == 0:
        return SignalResult.absent_because(SIGNAL, version, "no audio")
    try:
        import librosa  # noqa: F401
        import pyloudnorm  # noqa: F401  (its K-weighting filters)
    except ImportError as exc:
        return SignalResult.absent_because(SIGNAL, version, f"audio libraries missing ({exc})")
    from threadpoolctl import threadpool_limits

    from analyzers.speech.vad import audible_threshold

    audio = np.ascontiguousarray(audio, dtype=np.float32)
    # One threshold for the whole track, from 20 ms levels, as the speech VAD decides.
    frame = max(1, int(0.02 * sample_rate))
    n = audio.size // frame
    levels = rms_db(audio[: n * frame].reshape(n, frame))
    threshold = audible_threshold(levels)
    result = SignalResult(signal=SIGNAL, version=version)
    step = int(options.window_s * sample_rate)
    # The matrix products here are small: BLAS threads only wait on each other (a mel
    # product took 40 ms with two threads on a busy 2-core machine, 0.2 ms with one).
    with threadpool_limits(limits=1, user_api="blas"):
        for i, start in enumerate(range(0, audio.size, step)):
            x = audio[start : start + step]
            if x.size < options.n_fft:  # a sliver at the end: nothing measurable
                continue
            t0 = start / sample_rate
            scores, raw = _window_cues(x, sample_rate, t0, threshold, speech, options)
            result.windows.append(
                Window(t0, t0 + x.size / sample_rate, scores, ref={"window": i, **raw})
            )
    lufs, lra = loudness.measure(audio, sample_rate)
    result.extras.update(
        loudness_lufs=float(lufs) if np.isfinite(lufs) else None,
        loudness_range_lu=float(lra) if np.isfinite(lra) else None,
        audible_threshold_dbfs=float(threshold),
        ranges={k: list(v) for k, v in RANGES.items()},
    )
    if speech is None:
        result.extras["shares"] = "speech regions not given: speech_share and music_share left out"
    _add_events(result, audio, sample_rate, options, events)
    return result


def _add_events(
    result: SignalResult,
    audio: np.ndarray,
    sample_rate: int,
    options: Options,
    backend: EventBackend | None,
) -> None:
    if backend is None:
        backend, why = load_event_backend(options)
        if backend is None:
            result.extras["events"] = {"absent": why}
            return
    try:
        found = backend.events(audio, sample_rate, EVENT_LABELS)
    except Exception as exc:  # an optional model must not sink the signal
        result.extras["events"] = {"absent": f"{backend.name} failed: {exc}"}
        return
    result.extras["events"] = {"backend": backend.name, "labels": list(EVENT_LABELS)}
    for start, end, label, score in found:
        if score >= options.event_threshold:
            result.marks.append(Mark(start, end, label, score, detail={"backend": backend.name}))
