"""Transcript semantics: mood and tone evidence from what is said.

The transcript is cut into windows of consecutive segments (``window_s``, closed early by a
pause longer than ``max_gap_s`` or a change of language). Each window's text is embedded
with MiniLM (all-MiniLM-L6-v2) and compared with every label's text: the renormalised mean
of the embeddings of its description and text cues, computed once per (model, label texts)
and cached.

Scores (``Window.scores``):

- ``<label>`` in [0, 1]: the cosine between window and label, mapped linearly from
  ``[cos_floor, cos_ceiling]`` to [0, 1] and clipped. MiniLM gives unrelated English text
  cosines around 0-0.1 and a sentence that paraphrases a description around 0.5-0.7; the
  defaults put "unrelated" at 0 and "clearly about it" at 1. The raw cosine is kept in
  ``extras["cosine"]`` so fusion can recalibrate.
- ``valence`` in [-1, 1]: VADER's compound score (a maintained English sentiment lexicon
  with rules for negation, intensifiers and punctuation), averaged over the window's
  segments weighted by their word counts; negative is unpleasant, positive pleasant.

Evidence: each window's ``ref`` carries its segments and the quoted text; a window whose
score for a label reaches ``mark_threshold`` also becomes a :class:`Mark` for that label,
quoting the words.

Coverage, conservatively (as the strong-language signal): MiniLM and VADER are English, so
segments in another language are not scored; if none is English the signal is absent with
the reason, and if some are not, every label goes to ``uncertain`` and the spans are listed
in ``extras["uncovered"]``. Segments that say nothing ("[Music]", "♪", "...") are dropped;
with nothing left the result is present and empty only when the caller says the audio had
no speech, otherwise absent.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyzers.encoders import EmbeddingCache, EncoderUnavailable, ensemble, fingerprint
from analyzers.signals.base import Mark, SignalResult, Window

SIGNAL = "transcript"
_VERSION = "1"
# Annotations Whisper writes for non-speech: [Music], (applause), ♪ ... ♪
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|[♪♫#*]")


@dataclass(frozen=True)
class TranscriptOptions:
    window_s: float = 25.0  # a window closes once it spans this long
    max_gap_s: float = 8.0  # a longer pause between segments closes it early
    cos_floor: float = 0.05  # cosine that maps to score 0
    cos_ceiling: float = 0.55  # cosine that maps to score 1
    mark_threshold: float = 0.5  # scaled score at which a window is evidence for a label
    languages: tuple[str, ...] = ("en",)  # what MiniLM and VADER cover
    model: str | None = None  # a sentence-transformers directory; None: the bundled MiniLM
    label_cache_dir: str | None = None

    def version(self) -> str:
        return (
            f"{SIGNAL}-{_VERSION}:{self.model or 'minilm-l6-v2'}:w{self.window_s}/{self.max_gap_s}"
            f":cos[{self.cos_floor},{self.cos_ceiling}]:vader"
        )


def _times(seg: Mapping[str, Any]) -> tuple[float, float]:
    start = float(seg.get("start_s", seg.get("start", 0.0)))
    return start, float(seg.get("end_s", seg.get("end", start)))


def spoken_text(text: str) -> str:
    """``text`` without non-speech annotations; "" when nothing was said."""
    cleaned = " ".join(_ANNOTATION.sub(" ", text).split())
    return cleaned if any(c.isalpha() for c in cleaned) else ""


@dataclass
class _Part:
    index: int
    start: float
    end: float
    text: str
    language: str


def _language(seg: Mapping[str, Any], default: str | None) -> str:
    return str(seg.get("language") or default or "").lower().split("-")[0]


def windows_of(parts: list[_Part], options: TranscriptOptions) -> list[list[_Part]]:
    """Consecutive parts grouped into windows of about ``window_s``."""
    groups: list[list[_Part]] = []
    for p in parts:
        cur = groups[-1] if groups else None
        if (
            cur is None
            or p.start - cur[-1].end > options.max_gap_s
            or p.language != cur[0].language
            or cur[-1].end - cur[0].start >= options.window_s
        ):
            groups.append([p])
        else:
            cur.append(p)
    return groups


def valence(texts: Sequence[str]) -> float:
    """Word-count weighted mean of VADER compound scores, in [-1, 1]."""
    analyser = _vader()
    weights = np.array([max(1, len(t.split())) for t in texts], dtype=float)
    values = np.array([analyser.polarity_scores(t)["compound"] for t in texts])
    return float((weights * values).sum() / weights.sum())


_VADER: Any = None


def _vader() -> Any:
    global _VADER
    if _VADER is None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        _VADER = SentimentIntensityAnalyzer()
    return _VADER


class TranscriptSemantics:
    """A loaded sentence encoder and its label-embedding cache; one per worker process."""

    def __init__(self, encoder: Any, options: TranscriptOptions | None = None) -> None:
        self.encoder = encoder
        self.options = options or TranscriptOptions()
        self.label_cache = EmbeddingCache(self.options.label_cache_dir)

    @classmethod
    def load(cls, options: TranscriptOptions) -> TranscriptSemantics:
        """Raises :class:`EncoderUnavailable` when MiniLM or VADER is not installed."""
        from analyzers.encoders.text import SentenceEncoder

        try:
            _vader()
        except ImportError as err:
            raise EncoderUnavailable(f"VADER sentiment lexicon not installed ({err})") from err
        return cls(SentenceEncoder(options.model), options)

    def label_embeddings(self, label_texts: Mapping[str, Sequence[str]]) -> np.ndarray:
        key = fingerprint(f"sentence:{self.encoder.model_id}", label_texts)
        return self.label_cache.get_or_compute(
            key, lambda: ensemble(label_texts, self.encoder.encode)
        )

    def analyze(
        self,
        segments: Sequence[Mapping[str, Any]] | None,
        label_texts: Mapping[str, Sequence[str]],
        *,
        language: str | None = None,
        had_speech: bool | None = None,
    ) -> SignalResult:
        """Scores per transcript window for every label of ``label_texts`` (label ->
        description and text cues). ``language`` applies to segments that carry none."""
        opts = self.options
        version = opts.version()
        if segments is None:
            return SignalResult.absent_because(SIGNAL, version, "no transcript")
        parts, uncovered = [], []
        for i, seg in enumerate(segments):
            text = spoken_text(str(seg.get("text", "")))
            start, end = _times(seg)
            lang = _language(seg, language)
            if not text:
                continue
            if lang not in opts.languages:
                uncovered.append({"segment": i, "start_s": start, "end_s": end, "language": lang})
                continue
            parts.append(_Part(i, start, end, text, lang))
        if not parts and uncovered:
            langs = ", ".join(sorted({u["language"] or "unknown" for u in uncovered}))
            return SignalResult.absent_because(
                SIGNAL,
                version,
                f"transcript language {langs} not covered: MiniLM and VADER are "
                f"{', '.join(opts.languages)} only",
            )
        if not parts:
            if had_speech is False:
                result = SignalResult(SIGNAL, version)
                result.extras["note"] = "no speech in the audio (music or silence): nothing said"
                return result
            why = "speech was heard" if had_speech else "whether the audio has speech is unknown"
            return SignalResult.absent_because(
                SIGNAL, version, f"nothing said in the transcript but {why}"
            )
        return self._score(windows_of(parts, opts), label_texts, uncovered, version)

    def _score(
        self,
        groups: list[list[_Part]],
        label_texts: Mapping[str, Sequence[str]],
        uncovered: list[dict[str, Any]],
        version: str,
    ) -> SignalResult:
        opts = self.options
        labels = list(label_texts)
        quotes = [" ".join(p.text for p in g) for g in groups]
        cosine = self.encoder.encode(quotes) @ self.label_embeddings(label_texts).T
        span = max(opts.cos_ceiling - opts.cos_floor, 1e-6)
        scaled = np.clip((cosine - opts.cos_floor) / span, 0.0, 1.0)
        result = SignalResult(SIGNAL, version)
        for row, (group, quote) in enumerate(zip(groups, quotes, strict=True)):
            start, end = group[0].start, group[-1].end
            scores = {lbl: float(scaled[row, j]) for j, lbl in enumerate(labels)}
            scores["valence"] = valence([p.text for p in group])
            ref = {"segments": [p.index for p in group], "text": quote, "language": "en"}
            result.windows.append(Window(start, end, scores, ref=ref))
            for j, lbl in enumerate(labels):
                if scaled[row, j] >= opts.mark_threshold:
                    detail = {"quote": quote, "cosine": round(float(cosine[row, j]), 4)}
                    result.marks.append(Mark(start, end, lbl, float(scaled[row, j]), None, detail))
        result.extras.update(
            model=self.encoder.model_id,
            labels=labels,
            cosine=np.round(cosine, 5).tolist(),
        )
        if uncovered:
            result.uncertain = sorted(labels)
            result.extras["uncovered"] = uncovered
        return result


_LOADED: dict[tuple[str | None, str | None], TranscriptSemantics] = {}
_LOCK = threading.Lock()


def analyze_transcript(
    segments: Sequence[Mapping[str, Any]] | None,
    label_texts: Mapping[str, Sequence[str]],
    options: TranscriptOptions | None = None,
    *,
    language: str | None = None,
    had_speech: bool | None = None,
) -> SignalResult:
    """The signal for a title (``segments`` as in ``Transcript.to_dict()["segments"]``);
    the model is loaded once per process, or the result is absent with the reason."""
    options = options or TranscriptOptions()
    try:
        with _LOCK:
            key = (options.model, options.label_cache_dir)
            if key not in _LOADED:
                _LOADED[key] = TranscriptSemantics.load(options)
            semantics = _LOADED[key]
    except EncoderUnavailable as err:
        return SignalResult.absent_because(SIGNAL, options.version(), str(err))
    semantics.options = options  # windowing and scaling may differ per call
    return semantics.analyze(segments, label_texts, language=language, had_speech=had_speech)
