"""Strong language: profanity, slurs and sexual terms in the transcript, at word timestamps.

The lexicon is ``profanex`` (a maintained, categorised word list with a Rust matcher that
returns character offsets). Each transcript segment's words are joined into one string with
known character spans, ``Filter.find()`` runs over it with whole-word boundaries (so
"Scunthorpe", "class", "assess" and "cocktail" are never flagged), and every match is
mapped back to the words it overlaps, hence to their start and end times.

Severity: a term listed in ``Options.lexicon`` takes the level given there (that is also how
mild words the library leaves out, "damn" and "hell", are added); any other library term
takes its category's default level (``Options.category_severity``). Each library category
maps to a taxonomy descriptor (``Options.descriptors``).

Coverage and empty transcripts, conservatively:
- segments in a language the lexicon does not cover (anything but English) are not
  scanned; if no segment is covered the signal is absent with the reason; if some are, the
  descriptors go to ``uncertain`` and the uncovered spans are listed in
  ``extras["uncovered"]``. An uncovered transcript is never scored as clean.
- ``segments is None`` (no transcript): absent.
- no segments: a present, clean result only when the caller says the audio had no speech
  (``had_speech=False``: music or silence, from the audio signal or VAD); otherwise (speech
  heard, or unknown) absent, because an empty transcript of speech proves nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from analyzers.signals.base import Mark, SignalResult, Window

SIGNAL = "language"
_VERSION = "1"

# Score of a severity level on [0, 1], for window scores (the taxonomy's order).
SEVERITY_SCORE = {"none": 0.0, "mild": 0.25, "moderate": 0.5, "strong": 0.75, "severe": 1.0}

DEFAULT_LEXICON: dict[str, str] = {
    "damn": "mild",
    "dammit": "mild",
    "goddamn": "moderate",
    "hell": "mild",
    "bloody": "mild",
    "crap": "mild",
    "piss": "mild",
    "pissed": "mild",
}
DEFAULT_DESCRIPTORS: dict[str, str] = {
    "general": "strong language",
    "excretory": "strong language",
    "violence": "strong language",
    "slurs": "discriminatory language",
    "sexual": "sexual content",
}
DEFAULT_CATEGORY_SEVERITY: dict[str, str] = {
    "general": "strong",
    "excretory": "moderate",
    "violence": "strong",
    "slurs": "severe",
    "sexual": "strong",
}


def _pairs(mapping: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k.lower().strip(), v) for k, v in mapping.items()))


@dataclass(frozen=True)
class Options:
    """Lexicon policy. Mappings are stored as sorted pairs so the options stay hashable."""

    lexicon: tuple[tuple[str, str], ...] = _pairs(DEFAULT_LEXICON)
    descriptors: tuple[tuple[str, str], ...] = _pairs(DEFAULT_DESCRIPTORS)
    category_severity: tuple[tuple[str, str], ...] = _pairs(DEFAULT_CATEGORY_SEVERITY)
    languages: tuple[str, ...] = ("en",)  # profanex's lexicon is English
    extra_allowlist: tuple[str, ...] = field(default=())

    @classmethod
    def build(
        cls,
        lexicon: Mapping[str, str] | None = None,
        descriptors: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> Options:
        """Options from plain mappings (e.g. the taxonomy's ``{term: severity}``)."""
        return cls(
            lexicon=_pairs(DEFAULT_LEXICON if lexicon is None else lexicon),
            descriptors=_pairs(DEFAULT_DESCRIPTORS if descriptors is None else descriptors),
            **kw,
        )

    def version(self) -> str:
        data = json.dumps([_VERSION, _profanex_version(), *map(list, self._key())])
        return f"{_VERSION}-{hashlib.sha256(data.encode()).hexdigest()[:12]}"

    def _key(self) -> tuple[tuple[Any, ...], ...]:
        return (
            self.lexicon,
            self.descriptors,
            self.category_severity,
            self.languages,
            self.extra_allowlist,
        )


def _profanex_version() -> str:
    try:
        import profanex

        return str(profanex.__version__)
    except ImportError:
        return "missing"


@lru_cache(maxsize=4)
def _filter(options: Options) -> Any:
    from profanex import Filter, FilterConfig

    # Extra terms go into the general category; their descriptor and level come from the
    # lexicon below, not from the category.
    return Filter(
        FilterConfig(
            extra_banned={"general": [t for t, _ in options.lexicon]},
            extra_allowlist=list(options.extra_allowlist) or None,
            word_boundaries=True,
        )
    )


@dataclass
class _Token:
    text: str
    start: float
    end: float
    char_start: int
    char_end: int


def _times(seg: Mapping[str, Any]) -> tuple[float, float]:
    start = seg.get("start_s", seg.get("start", 0.0))
    end = seg.get("end_s", seg.get("end", start))
    return float(start), float(end)


def _tokens(seg: Mapping[str, Any]) -> tuple[str, list[_Token]]:
    """The segment's words joined by spaces, each with its character span and times.
    A segment without word timestamps becomes one token spanning the segment."""
    words = seg.get("words") or []
    if not words:
        text = str(seg.get("text", "")).strip()
        start, end = _times(seg)
        return text, [_Token(text, start, end, 0, len(text))] if text else []
    parts: list[str] = []
    tokens: list[_Token] = []
    pos = 0
    for w in words:
        text = str(w.get("word", w.get("text", ""))).strip()
        if not text:
            continue
        if parts:
            pos += 1  # the joining space
        tokens.append(_Token(text, float(w["start"]), float(w["end"]), pos, pos + len(text)))
        parts.append(text)
        pos += len(text)
    return " ".join(parts), tokens


def _covered(lang: str | None, options: Options) -> bool:
    return bool(lang) and str(lang).lower().split("-")[0] in options.languages


def detect(
    segments: Sequence[Mapping[str, Any]] | None,
    options: Options | None = None,
    *,
    language: str | None = None,
    had_speech: bool | None = None,
) -> SignalResult:
    """Marks for every flagged term and one window per scanned segment.

    ``language`` is the transcript's language, used for segments that carry none.
    """
    options = options or Options()
    version = options.version()
    if segments is None:
        return SignalResult.absent_because(SIGNAL, version, "no transcript")
    if not segments:
        if had_speech is False:
            result = SignalResult(signal=SIGNAL, version=version)
            result.extras["note"] = "no speech in the audio (music or silence): nothing said"
            return result
        why = "speech was heard" if had_speech else "whether the audio has speech is unknown"
        return SignalResult.absent_because(
            SIGNAL, version, f"empty transcript but {why}: language not assessed"
        )
    try:
        flt = _filter(options)
    except ImportError as exc:
        return SignalResult.absent_because(
            SIGNAL, version, f"profanity lexicon not installed ({exc})"
        )
    severities = dict(options.lexicon)
    descriptors = dict(options.descriptors)
    cat_severity = dict(options.category_severity)
    result = SignalResult(signal=SIGNAL, version=version)
    uncovered: list[dict[str, Any]] = []
    for i, seg in enumerate(segments):
        lang = seg.get("language") or language
        start, end = _times(seg)
        if not _covered(lang, options):
            uncovered.append({"segment": i, "start_s": start, "end_s": end, "language": lang})
            continue
        text, tokens = _tokens(seg)
        scores = dict.fromkeys(sorted(set(descriptors.values())), 0.0)
        for match in flt.find(text) if text else []:
            hit = [t for t in tokens if t.char_start < match.end and match.start < t.char_end]
            if not hit:
                continue
            term = match.term.lower()
            cats = sorted(c.value for c in match.categories) or ["general"]
            # An extra-lexicon term is strong language at the level the lexicon gives.
            if term in severities:
                severity, descriptor = severities[term], descriptors.get("general", cats[0])
            else:
                severity = max(
                    (cat_severity.get(c, "strong") for c in cats), key=SEVERITY_SCORE.get
                )
                descriptor = next((descriptors[c] for c in cats if c in descriptors), None)
            if descriptor is None:
                continue
            result.marks.append(
                Mark(
                    start_s=hit[0].start,
                    end_s=hit[-1].end,
                    label=descriptor,
                    score=match.score / 100.0,
                    severity=severity,
                    detail={
                        "quote": match.text,
                        "words": [t.text for t in hit],
                        "term": match.term,
                        "categories": cats,
                        "segment": i,
                        "timing": "word" if seg.get("words") else "segment",
                    },
                )
            )
            scores[descriptor] = max(scores[descriptor], SEVERITY_SCORE.get(severity, 0.75))
        result.windows.append(Window(start, end, scores, ref={"segment": i, "language": str(lang)}))
    if uncovered and not result.windows:
        langs = sorted({str(u["language"]) for u in uncovered})
        return SignalResult.absent_because(
            SIGNAL,
            version,
            f"transcript language {', '.join(langs)} not covered by the lexicon "
            f"(covers {', '.join(options.languages)})",
        )
    if uncovered:
        result.uncertain = sorted(set(descriptors.values()))
        result.extras["uncovered"] = uncovered
    return result
