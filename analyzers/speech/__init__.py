"""Speech: audio track -> transcript with word timings, guarded against hallucinations.

Entry point: :func:`analyzers.speech.transcribe.transcribe_media`. Heavy backends are
imported lazily, so importing this package is cheap.
"""

from analyzers.speech.base import DecodeOptions, Segment, SpeechBackend, Transcript, Word

__all__ = ["DecodeOptions", "Segment", "SpeechBackend", "Transcript", "Word"]
