"""Speech analysis interface: result dataclasses and the backend protocol.

Times are in seconds. Backends see 16 kHz mono float32 audio and return times relative to
the start of the array they were given; callers shift them to title time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import numpy as np

SAMPLE_RATE = 16000

ProgressFn = Callable[[float], None]


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0

    def shifted(self, offset: float) -> Word:
        return replace(self, start=self.start + offset, end=self.end + offset)


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    language: str | None = None
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0
    words: tuple[Word, ...] = ()

    def shifted(self, offset: float) -> Segment:
        return replace(
            self,
            start=self.start + offset,
            end=self.end + offset,
            words=tuple(w.shifted(offset) for w in self.words),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["words"] = [asdict(w) for w in self.words]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        words = tuple(Word(**w) for w in data.get("words", ()))
        return cls(**{**data, "words": words})


@dataclass(frozen=True)
class Untranscribed:
    """Speech in a language no installed model transcribes (or one the settings exclude):
    recorded with the detected language and its probability, never transcribed as English."""

    start: float
    end: float
    language: str
    probability: float

    def shifted(self, offset: float) -> Untranscribed:
        return replace(self, start=self.start + offset, end=self.end + offset)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Transcript:
    segments: list[Segment] = field(default_factory=list)
    language: str | None = None
    duration_s: float = 0.0
    backend: str = ""
    model: str = ""
    audio_stream_index: int | None = None
    # Things a person should know (empty track, guard drops...); never fatal.
    warnings: list[str] = field(default_factory=list)
    untranscribed: list[Untranscribed] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    def to_dict(self) -> dict[str, Any]:
        return {
            "segments": [s.to_dict() for s in self.segments],
            "language": self.language,
            "duration_s": self.duration_s,
            "backend": self.backend,
            "model": self.model,
            "audio_stream_index": self.audio_stream_index,
            "warnings": list(self.warnings),
            "untranscribed": [u.to_dict() for u in self.untranscribed],
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        return cls(
            segments=[Segment.from_dict(s) for s in data.get("segments", [])],
            language=data.get("language"),
            duration_s=data.get("duration_s", 0.0),
            backend=data.get("backend", ""),
            model=data.get("model", ""),
            audio_stream_index=data.get("audio_stream_index"),
            warnings=list(data.get("warnings", [])),
            untranscribed=[Untranscribed(**u) for u in data.get("untranscribed", [])],
        )


@dataclass(frozen=True)
class DecodeOptions:
    """What a backend needs to decode one piece of audio."""

    language: str | None = None
    beam_size: int = 5
    # Fallback temperatures, as in Whisper's paper: retried when a guard rejects a window.
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    # Conditioning on earlier text is what feeds repetition loops on film audio; off by default.
    condition_on_previous_text: bool = False
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    word_timestamps: bool = True
    initial_prompt: str | None = None


class SpeechBackend(Protocol):
    """A loaded speech-to-text model. One instance is reused for many calls."""

    name: str
    model_name: str

    @property
    def is_multilingual(self) -> bool: ...

    @property
    def languages(self) -> frozenset[str]:
        """Language codes the model transcribes (``{"en"}`` for an English-only model)."""
        ...

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> list[Segment]:
        """Transcribe 16 kHz mono float32 ``audio``; times relative to its first sample."""
        ...

    def detect_language(
        self, audio: np.ndarray, exclude: frozenset[str] = frozenset()
    ) -> tuple[str, float]:
        """Most likely language of (the first 30 s of) ``audio`` and its probability.

        Callers pass a short sample: a few seconds name the language, and a backend may
        encode only the sample rather than a padded 30 s window. Languages in ``exclude``
        are never named (see :func:`most_likely`)."""
        ...


def most_likely(
    probabilities: Iterable[tuple[str, float]], exclude: frozenset[str] = frozenset()
) -> tuple[str, float]:
    """The most likely language once ``exclude`` is ruled out, with its probability
    renormalised over the languages left (what the model would say if it knew the
    excluded ones cannot be spoken)."""
    kept = [(lang, p) for lang, p in probabilities if lang not in exclude]
    total = sum(p for _, p in kept)
    lang, p = max(kept, key=lambda item: item[1])
    return lang, (p / total if total > 0 else 0.0)


def words_text(words: Sequence[Word]) -> str:
    """Rebuild segment text from Whisper words (each carries its leading space)."""
    return "".join(w.text for w in words).strip()
