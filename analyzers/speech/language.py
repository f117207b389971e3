"""Per-region language detection for multilingual titles.

Whisper decides the language once per call. A film that switches language would then be
transcribed (or translated) in the wrong one, so with a multilingual model and no language
configured each audible region gets its own detection and regions are decoded in runs
of one language.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzers.speech.base import SAMPLE_RATE, SpeechBackend

# Below this, Whisper's language guess is close to a coin toss; such regions follow
# their neighbours.
MIN_DETECT_S = 2.0
MIN_PROBABILITY = 0.5


@dataclass(frozen=True)
class LanguageRun:
    language: str | None
    regions: list[tuple[float, float]]
    probability: float = 1.0


def detect_runs(
    backend: SpeechBackend,
    audio: np.ndarray,
    regions: list[tuple[float, float]],
    *,
    language: str | None = None,
    per_region: bool = True,
) -> list[LanguageRun]:
    """Group ``regions`` of ``audio`` into consecutive runs of one language."""
    if not regions:
        return []
    if language or not backend.is_multilingual:
        return [LanguageRun(language or "en", regions)]
    if not per_region:
        joined = np.concatenate(
            [audio[int(s * SAMPLE_RATE) : int(e * SAMPLE_RATE)] for s, e in regions]
        )
        lang, prob = backend.detect_language(joined)
        return [LanguageRun(lang, regions, prob)]
    labels: list[tuple[str | None, float]] = []
    for start, end in regions:
        if end - start < MIN_DETECT_S:
            labels.append((None, 0.0))
            continue
        piece = audio[int(start * SAMPLE_RATE) : int(min(end, start + 30.0) * SAMPLE_RATE)]
        lang, prob = backend.detect_language(piece)
        labels.append((lang, prob) if prob >= MIN_PROBABILITY else (None, prob))
    # Unsure regions take the previous sure language (or the next one at the start).
    sure = [lab for lab in labels if lab[0] is not None]
    fallback = sure[0] if sure else (None, 0.0)
    filled: list[tuple[str | None, float]] = []
    for lab in labels:
        filled.append(lab if lab[0] is not None else (filled[-1] if filled else fallback))
    runs: list[LanguageRun] = []
    for region, (lang, prob) in zip(regions, filled, strict=True):
        if runs and runs[-1].language == lang:
            runs[-1].regions.append(region)
        else:
            runs.append(LanguageRun(lang, [region], prob))
    return runs
