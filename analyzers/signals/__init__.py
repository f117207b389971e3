"""Per-title signals for tagging and embeddings: pure analyzers over what earlier stages
stored (keyframes, sampled frames, transcript words, audio). Each signal module has an
``Options`` with ``version()``, a backend behind a Protocol where a model is involved, and
returns a :class:`~analyzers.signals.base.SignalResult`. A signal whose model or input is
missing returns ``SignalResult.absent_because(...)``: never zeros, never a stand-in model."""

from analyzers.signals.base import Absent, Mark, SignalResult, Window

__all__ = ["Absent", "Mark", "SignalResult", "Window"]
