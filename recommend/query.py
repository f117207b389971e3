"""Natural-language queries -> hard filters, mood/tone labels and free text.

Phrases about viewers become a viewer age (the strictest wins), which the index turns into a
ceiling through the taxonomy's rating ages; phrases about time become a maximum duration.
What is left is split into words: a word close to a mood/tone label (MiniLM cosine to the
label's name and description) becomes that label, the rest is free text for the transcript
``text`` space. Every decision is reported so a caller can show it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from recommend.index import Ceiling

# Viewer phrases -> the age of the youngest viewer they imply. Ages are chosen so the
# ceiling lands on a rating's minimum age in the taxonomy (TV-Y7/G 7, PG 8, TV-PG 10, 13).
_N = r"(\d{1,2})"
AGE_PHRASES: tuple[tuple[str, int | None], ...] = (
    (
        rf"\b(?:(?:ok(?:ay)?|fine|safe|suitable|good|appropriate)\s+for\s+)?(?:an?\s+|my\s+)?"
        rf"{_N}[- ]?(?:years?|yrs?|y/?o)(?:[- ]?olds?)?\b",
        None,
    ),
    (r"\b(?:for\s+)?(?:toddlers?|preschool(?:ers)?|little ones)\b", 4),
    (r"\b(?:(?:ok(?:ay)?|safe|fine|suitable)\s+)?for\s+(?:the\s+|my\s+)?(?:kids|children)\b", 7),
    (r"\b(?:kid|child)[- ]?(?:friendly|safe)\b", 7),
    (r"\bfamily(?:[- ]friendly)?(?:\s+(?:movie|film|tv|show))?(?:\s+night)?\b", 8),
    (r"\b(?:nothing|not)\s+(?:too\s+|that\s+|very\s+)?(?:scary|frightening|violent|gory)\b", 10),
    (r"\b(?:for\s+)?(?:teens?|teenagers?)\b", 13),
)

_WORD_NUMBERS = {"a": 1.0, "an": 1.0, "one": 1.0, "two": 2.0, "three": 3.0, "half an": 0.5}
_UNITS = {"h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0}
DURATION = re.compile(
    r"\b(?:under|less\s+than|below|within|no\s+(?:more|longer)\s+than|at\s+most|shorter\s+than|"
    r"(?:i\s+)?only\s+have|i\s+have|i've\s+got|got)\s+(?:about\s+)?"
    r"(\d+(?:\.\d+)?|half\s+an|an?|one|two|three)\s*(minutes?|mins?|m|hours?|hrs?|h)\b",
    re.IGNORECASE,
)

_STOP = """
    a an the and or but with without of to for in on at by me my i we us our you some
    something anything show find give want like would love please really very quite bit
    little kind sort movie movies film films title titles series show shows episode
    watch tonight night that this is are be it its just more less too also okay ok maybe
    good great nice
"""
STOPWORDS = frozenset(_STOP.split())


@dataclass
class MoodMatch:
    word: str
    facet: str
    label: str
    score: float


@dataclass
class Interpretation:
    query: str
    viewer_age: int | None = None
    viewer_phrases: list[str] = field(default_factory=list)
    ceiling: Ceiling | None = None
    max_duration_s: float | None = None
    duration_phrase: str | None = None
    moods: list[MoodMatch] = field(default_factory=list)
    free_text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "viewer_age": self.viewer_age,
            "viewer_phrases": self.viewer_phrases,
            "ceiling": self.ceiling.describe() if self.ceiling else None,
            "max_duration_s": self.max_duration_s,
            "duration_phrase": self.duration_phrase,
            "moods": [m.__dict__ for m in self.moods],
            "free_text": self.free_text,
        }


def viewer_age(text: str) -> tuple[int | None, list[str], str]:
    """(strictest implied age, phrases matched, text without them)."""
    ages: list[int] = []
    phrases: list[str] = []
    for pattern, fixed in AGE_PHRASES:
        for m in re.finditer(pattern, text, re.IGNORECASE):
            age = fixed if fixed is not None else int(m.group(1))
            ages.append(age)
            phrases.append(m.group(0).strip())
        text = re.sub(pattern, " ", text, flags=re.IGNORECASE)
    return (min(ages) if ages else None), phrases, text


def duration_limit(text: str) -> tuple[float | None, str | None, str]:
    m = DURATION.search(text)
    if m is None:
        return None, None, text
    raw, unit = m.group(1).lower(), m.group(2).lower()
    amount = _WORD_NUMBERS.get(re.sub(r"\s+", " ", raw)) or float(raw)
    seconds = amount * _UNITS.get(unit, 60.0)
    return seconds, m.group(0).strip(), text[: m.start()] + " " + text[m.end() :]


Embed = Callable[[Sequence[str]], np.ndarray]
CACHE_MAX = 20_000  # texts whose vectors a matcher keeps (queries repeat their words)


class MoodMatcher:
    """Words -> mood/tone labels by MiniLM cosine to each label's name and description."""

    def __init__(self, taxonomy: Any, embed: Embed, threshold: float = 0.43) -> None:
        self.labels = [(lab.facet, lab.id) for f in ("mood", "tone") for lab in taxonomy.labels(f)]
        names = [lab.name for f in ("mood", "tone") for lab in taxonomy.labels(f)]
        descs = [
            f"{lab.name}: {lab.description}" for f in ("mood", "tone") for lab in taxonomy.labels(f)
        ]
        self.embed = embed
        self.name_vecs = embed(names)
        self.desc_vecs = embed(descs)
        self.threshold = threshold
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """``embed(texts)``, each distinct text encoded once per process: a query's words
        recur across queries, and one encoder call costs milliseconds on a CPU."""
        with self._lock:  # one encoder call at a time; the cache is shared by threads
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
            if missing:
                if len(self._cache) + len(missing) > CACHE_MAX:
                    self._cache.clear()
                self._cache.update(zip(missing, self.embed(missing), strict=True))
            return np.stack([self._cache[t] for t in texts])

    def prepare(self, words: Sequence[str]) -> None:
        """Encode in one batch the words not cached yet and the free text they would leave
        (if none of them names a mood): at batch 1 the forward pass reads every weight of
        the model, so a few short texts together cost about what one does, where a search
        with new words paid one encode for the words and another for its free text."""
        keys = [w.replace("-", " ") for w in words]
        with self._lock:
            missing = [k for k in dict.fromkeys(keys) if k not in self._cache]
        if not missing:
            return
        known = [w for w, k in zip(words, keys, strict=True) if k not in missing]
        moods = {w for w, m in zip(known, self.match(known), strict=True) if m is not None}
        guess = " ".join(w for w in words if w not in moods)
        self.vectors([*missing, guess] if guess else missing)

    def match(self, words: Sequence[str]) -> list[MoodMatch | None]:
        if not words:
            return []
        vecs = self.vectors([w.replace("-", " ") for w in words])
        # the name carries most of the meaning; the description breaks near-ties
        sims = 0.7 * (vecs @ self.name_vecs.T) + 0.3 * (vecs @ self.desc_vecs.T)
        out: list[MoodMatch | None] = []
        for word, row in zip(words, sims, strict=True):
            best = int(np.argmax(row))
            facet, label = self.labels[best]
            exact = word.lower() == label
            ok = exact or row[best] >= self.threshold
            out.append(MoodMatch(word, facet, label, float(row[best])) if ok else None)
        return out


def parse(
    query: str, taxonomy: Any, matcher: MoodMatcher | None, *, ceiling: Ceiling | None = None
) -> Interpretation:
    """Interpret ``query``; a caller's explicit ``ceiling`` is combined with the query's
    viewer age, the stricter winning."""
    text = " " + query + " "
    age, phrases, text = viewer_age(text)
    seconds, duration_phrase, text = duration_limit(text)
    out = Interpretation(query=query, viewer_age=age, viewer_phrases=phrases)
    out.max_duration_s, out.duration_phrase = seconds, duration_phrase
    out.ceiling = ceiling
    if age is not None:  # keep the caller's system order, take the stricter age
        base = ceiling or Ceiling.for_age(age)
        out.ceiling = replace(base, max_age=min(age, base.max_age))
    words = [w for w in re.findall(r"[a-z][a-z'-]*", text.lower()) if w not in STOPWORDS]
    free: list[str] = []
    if matcher is not None:
        matcher.prepare(words)
    matches = matcher.match(words) if matcher is not None else [None] * len(words)
    seen: set[str] = set()
    for word, match in zip(words, matches, strict=True):
        if match is None:
            free.append(word)
        elif match.label not in seen:
            seen.add(match.label)
            out.moods.append(match)
    out.free_text = " ".join(free)
    return out
