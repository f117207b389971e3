"""Hallucination guards: reject text Whisper did not actually hear.

Whisper was trained on subtitles, so on silence, music and noise it tends to write what
subtitle files say there ("Thank you for watching", "[Music]", "you") or loops one phrase.
Each check below is cheap and works on the segment alone, so chunks can be guarded in
parallel before stitching.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass, field, replace

from analyzers.speech.base import Segment, Word, words_text

# Phrases Whisper writes on silence/music (normalised). A segment made only of these is
# dropped when the model itself doubted there was speech.
STOCK_PHRASES = frozenset(
    {
        "you",
        "thank you",
        "thank you very much",
        "thanks",
        "thank you so much",
        "thank you for watching",
        "thanks for watching",
        "thank you for watching this video",
        "thanks for watching this video",
        "please subscribe",
        "subscribe to my channel",
        "like and subscribe",
        "please like and subscribe",
        "see you next time",
        "see you in the next video",
        "bye",
        "bye bye",
        "goodbye",
        "so",
        "okay",
        "oh",
        "uh",
        "um",
        "hmm",
        "i",
        "the",
        "music",
        "applause",
        "laughter",
        "silence",
        "foreign",
        "subtitles by the amara org community",
        "transcribed by",
        "captions by",
        "subtitles by",
        "translated by",
        "the end",
    }
)
# Bracketed annotations: "[Music]", "(upbeat music)", "*applause*", and music notes.
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|[♪♫♬♩]+")


def normalise(text: str) -> str:
    """Lowercase, strip punctuation and accents' marks, collapse spaces (for comparisons)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w\s']", " ", text)
    return " ".join(text.split())


def compression_ratio(text: str) -> float:
    """Whisper's loop detector: repeated text compresses well."""
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data)))


@dataclass(frozen=True)
class GuardOptions:
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    # Stock phrases are dropped when the model was at least this unsure there was speech.
    stock_no_speech: float = 0.3
    stock_log_prob: float = -0.5
    # A segment whose words are all this unlikely is noise the model rationalised.
    min_mean_word_prob: float = 0.15
    max_repeats: int = 3


@dataclass
class GuardReport:
    dropped: list[tuple[Segment, str]] = field(default_factory=list)

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, why in self.dropped:
            out[why] = out.get(why, 0) + 1
        return out


def strip_annotations(segment: Segment) -> Segment:
    """Remove "[Music]"-style annotations and note symbols, keeping any sung words."""
    if not _ANNOTATION.search(segment.text):
        return segment
    words = tuple(
        w
        for w in (replace(w, text=_ANNOTATION.sub("", w.text)) for w in segment.words)
        if w.text.strip() and normalise(w.text)
    )
    text = words_text(words) if segment.words else _ANNOTATION.sub("", segment.text).strip()
    return replace(segment, text=" ".join(text.split()), words=words)


def collapse_repeats(segment: Segment, max_repeats: int = 3) -> Segment:
    """Cut an n-gram repeated more than ``max_repeats`` times in a row down to one."""
    words = list(segment.words) if segment.words else None
    tokens = [normalise(w.text) for w in words] if words else normalise(segment.text).split()
    keep = list(range(len(tokens)))
    changed = False
    for n in range(1, 7):
        i = 0
        out: list[int] = []
        while i < len(keep):
            gram = [tokens[k] for k in keep[i : i + n]]
            reps = 1
            while [tokens[k] for k in keep[i + reps * n : i + (reps + 1) * n]] == gram:
                reps += 1
            if len(gram) == n and reps > max_repeats:
                out.extend(keep[i : i + n])
                i += reps * n
                changed = True
            else:
                out.append(keep[i])
                i += 1
        keep = out
    if not changed:
        return segment
    if words:
        kept: tuple[Word, ...] = tuple(words[k] for k in keep)
        return replace(segment, words=kept, text=words_text(kept))
    raw = segment.text.split()
    return replace(segment, text=" ".join(raw[k] for k in keep if k < len(raw)))


def check(segment: Segment, options: GuardOptions = GuardOptions()) -> str | None:
    """Why ``segment`` should be dropped, or None to keep it."""
    norm = normalise(segment.text)
    if not norm:
        return "empty"
    if segment.no_speech_prob > options.no_speech_threshold and (
        segment.avg_logprob < options.log_prob_threshold
    ):
        return "no_speech"
    if compression_ratio(norm) > options.compression_ratio_threshold and len(norm) > 40:
        return "repetition"
    if norm in STOCK_PHRASES and (
        segment.no_speech_prob > options.stock_no_speech
        or segment.avg_logprob < options.stock_log_prob
    ):
        return "stock_phrase"
    if segment.words:
        mean_prob = sum(w.probability for w in segment.words) / len(segment.words)
        if mean_prob < options.min_mean_word_prob:
            return "low_word_probability"
    return None


def apply_guards(
    segments: list[Segment],
    options: GuardOptions = GuardOptions(),
    report: GuardReport | None = None,
) -> list[Segment]:
    """Clean and filter segments; dropped ones (with the reason) go to ``report``."""
    kept: list[Segment] = []
    for seg in segments:
        # A whole segment that compresses this well is a loop: dropped, not trimmed.
        norm = normalise(seg.text)
        if compression_ratio(norm) > options.compression_ratio_threshold and len(norm) > 40:
            if report is not None:
                report.dropped.append((seg, "repetition"))
            continue
        cleaned = collapse_repeats(strip_annotations(seg), options.max_repeats)
        why = check(cleaned, options)
        if why is None:
            kept.append(cleaned)
        elif report is not None:
            report.dropped.append((seg, why))
    return kept
