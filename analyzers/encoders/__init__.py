"""Loaded embedding models shared by the signals and the embedding spaces: a CLIP-style image
and text encoder (``clip``) and a sentence encoder (``text``). Every vector they return is
L2-normalised float32. A model that cannot be loaded raises :class:`EncoderUnavailable`, whose
message the caller records as the reason a signal or space is absent."""

from analyzers.encoders.cache import EmbeddingCache, ensemble, fingerprint


class EncoderUnavailable(RuntimeError):
    """The model is not installed or cannot be loaded here; ``str(err)`` says why."""


__all__ = ["EmbeddingCache", "EncoderUnavailable", "ensemble", "fingerprint"]
