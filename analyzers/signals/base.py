"""The shape every signal returns: scores per time window, point marks with evidence, or an
explicit absence with its reason. Fusion (``analyzers/fusion``) reads only this shape."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Absent:
    """Why a signal (or part of one) could not be computed: conservative fusion treats the
    facts it would have given as unknown, never as clean."""

    reason: str


@dataclass
class Window:
    """Scores over ``[start_s, end_s)``: a shot, a scene, a transcript window or an audio
    window. ``scores`` maps a label or cue name to a value (documented by the signal)."""

    start_s: float
    end_s: float
    scores: dict[str, float] = field(default_factory=dict)
    # Where the window came from: {"shot": 3} or {"scene": 1} or {"segment": 7}; free-form.
    ref: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)


@dataclass
class Mark:
    """A point or short span that justifies a label: a flagged word, a nude frame, a gunshot.
    ``label`` is a taxonomy label or descriptor; ``severity`` a taxonomy level where one
    applies; ``detail`` the evidence (quoted words, boxes, keyframe key...)."""

    start_s: float
    end_s: float
    label: str
    score: float
    severity: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class SignalResult:
    signal: str  # vision | nudity | language | transcript | audio | style
    version: str
    windows: list[Window] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    absent: Absent | None = None
    # Labels the signal could not settle (e.g. nudity scores in the uncertain band):
    # conservative ratings treat these like absent for the descriptor they feed.
    uncertain: list[str] = field(default_factory=list)
    # Whole-title values (e.g. loudness LUFS, detected language) and notes for people.
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def present(self) -> bool:
        return self.absent is None

    @classmethod
    def absent_because(cls, signal: str, version: str, reason: str) -> SignalResult:
        return cls(signal=signal, version=version, absent=Absent(reason))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignalResult:
        absent = data.get("absent")
        return cls(
            signal=data["signal"],
            version=data["version"],
            windows=[Window(**w) for w in data.get("windows", [])],
            marks=[Mark(**m) for m in data.get("marks", [])],
            absent=Absent(**absent) if absent else None,
            uncertain=list(data.get("uncertain", [])),
            extras=dict(data.get("extras", {})),
        )
