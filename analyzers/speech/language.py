"""Language identification per speech region, and which model transcribes which language.

Whisper decides the language once per call. A film that switches language would then be
transcribed (or translated) in the wrong one, so unless a language is configured each
audible region gets its own detection, on a short sample, by a multilingual model, and
regions are decoded in runs of one language.

A run goes to the main model when it transcribes that language (``tiny.en`` keeps English
fast), else to the multilingual model; when neither does, the speech is recorded as
untranscribed with its detected language. An English-only model never hears other languages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from analyzers.speech.base import SAMPLE_RATE, SpeechBackend

# Below this, Whisper's language guess is close to a coin toss; such regions follow
# their neighbours.
MIN_DETECT_S = 2.0
MIN_PROBABILITY = 0.5
# A few seconds name the language as surely as a full 30 s window (FLEURS de/es/fr/pt/en
# and film dialogue here) at a fraction of the encoder's cost.
SAMPLE_S = 6.0
# Long regions are sampled again this often, so a switch inside one is still seen.
SPAN_S = 30.0
# Whisper's detector names Latin for clear but flat English (espeak-ng and accented
# speech here: 8 of 44 clips, at up to 0.94) and Sanskrit likewise; no title's dialogue
# is in either, so by default they are ruled out and the rest renormalised.
NEVER_DETECTED = ("la", "sa")

Span = tuple[float, float]
Label = tuple[str | None, float]


@dataclass(frozen=True)
class LanguageRun:
    language: str | None
    regions: list[Span]
    probability: float = 1.0


class ModelRouter:
    """The loaded models of a transcription and the languages each one transcribes.

    ``load_multilingual`` is called at most once, and only when needed: with a configured
    language the main model can transcribe, the multilingual model is never loaded.
    """

    def __init__(
        self,
        main: SpeechBackend,
        load_multilingual: Callable[[], SpeechBackend | None],
        allowed: frozenset[str] = frozenset(),
    ) -> None:
        self.main = main
        self._load = load_multilingual
        self.allowed = allowed  # empty: every language a model transcribes

    @cached_property
    def multilingual(self) -> SpeechBackend | None:
        return self.main if self.main.is_multilingual else self._load()

    @property
    def detector(self) -> SpeechBackend | None:
        """The model that identifies languages (None: no multilingual model)."""
        return self.multilingual

    def for_language(self, language: str | None) -> SpeechBackend | None:
        """Who transcribes ``language``; None when no model can (or it is not allowed).

        An unknown language (no sure detection anywhere) goes to the multilingual model,
        which then decides for itself; never to an English-only one.
        """
        if language is None:
            return self.multilingual
        if self.allowed and language not in self.allowed:
            return None
        if language in self.main.languages:
            return self.main
        ml = self.multilingual
        return ml if ml is not None and language in ml.languages else None


def sample(audio: np.ndarray, start: float, end: float) -> np.ndarray:
    """The first :data:`SAMPLE_S` of ``audio`` between ``start`` and ``end`` (seconds)."""
    stop = min(end, start + SAMPLE_S)
    return audio[int(start * SAMPLE_RATE) : int(stop * SAMPLE_RATE)]


def _label(
    detector: SpeechBackend, audio: np.ndarray, start: float, end: float, exclude: frozenset[str]
) -> Label:
    if end - start < MIN_DETECT_S:
        return None, 0.0
    lang, prob = detector.detect_language(sample(audio, start, end), exclude)
    return (lang, prob) if prob >= MIN_PROBABILITY else (None, prob)


def _labelled(
    detector: SpeechBackend, audio: np.ndarray, region: Span, exclude: frozenset[str]
) -> list[tuple[Span, Label]]:
    """A region's language, sampled every :data:`SPAN_S`; split only where it changes."""
    start, end = region
    out: list[tuple[Span, Label]] = []
    a = start
    while a < end:
        b = end if end - a < SPAN_S + MIN_DETECT_S else a + SPAN_S
        lab = _label(detector, audio, a, b, exclude)
        if out and (lab[0] is None or lab[0] == out[-1][1][0]):
            out[-1] = ((out[-1][0][0], b), out[-1][1])
        else:
            out.append(((a, b), lab))
        a = b
    return out


def detect_runs(
    detector: SpeechBackend | None,
    audio: np.ndarray,
    regions: list[Span],
    *,
    language: str | None = None,
    per_region: bool = True,
    exclude: frozenset[str] = frozenset(),
) -> list[LanguageRun]:
    """Group ``regions`` of ``audio`` into consecutive runs of one language.

    ``detector`` (a multilingual model) may be None only when ``language`` is given;
    languages in ``exclude`` are never detected.
    """
    if not regions:
        return []
    if language or detector is None or not detector.is_multilingual:
        return [LanguageRun(language, regions)]
    if not per_region:
        joined = np.concatenate(
            [audio[int(s * SAMPLE_RATE) : int(e * SAMPLE_RATE)] for s, e in regions]
        )
        lang, prob = detector.detect_language(joined[: int(SPAN_S * SAMPLE_RATE)], exclude)
        return [LanguageRun(lang, regions, prob)]
    labelled = [
        piece for region in regions for piece in _labelled(detector, audio, region, exclude)
    ]
    # Unsure regions take the previous sure language (or the next one at the start).
    sure = [lab for _, lab in labelled if lab[0] is not None]
    fallback = sure[0] if sure else (None, 0.0)
    filled: list[Label] = []
    for _, lab in labelled:
        filled.append(lab if lab[0] is not None else (filled[-1] if filled else fallback))
    runs: list[LanguageRun] = []
    for (span, _), (lang, prob) in zip(labelled, filled, strict=True):
        if runs and runs[-1].language == lang:
            runs[-1].regions.append(span)
        else:
            runs.append(LanguageRun(lang, [span], prob))
    return runs
