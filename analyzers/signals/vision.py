"""Vision-language signal: a zero-shot score per shot for every label, and keyframe embeddings.

Each shot's image embedding is the renormalised mean of its frames' CLIP embeddings (its
keyframe, plus any sampled frames the shots stage stored). Each label's text embedding is the
renormalised mean of its prompt ensemble, computed once per (model, prompts) and cached in
memory and, with ``text_cache_dir``, on disk.

Scores (``Window.scores[label]``, in [0, 1]):

- ``softmax`` (default, CLIP): CLIP's own zero-shot classifier, a softmax of
  ``logit_scale * cosine`` over the labels of one facet. Labels of a facet compete, so the
  values of a facet sum to 1 per shot, and a facet of n labels with no preference gives 1/n.
- ``sigmoid`` (SigLIP, or CLIP with a calibrated centre): ``sigmoid(logit_scale * cosine +
  bias)``, each label on its own; ``bias`` is the model's ``logit_bias`` where it has one
  (SigLIP), else ``-logit_scale * sigmoid_centre``.

The raw cosines are kept in ``extras["cosine"]`` (one row per window, labels in
``extras["labels"]`` order) so fusion can recalibrate without rerunning the model.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from analyzers.encoders import EmbeddingCache, EncoderUnavailable, ensemble, fingerprint
from analyzers.encoders.cache import normalise
from analyzers.encoders.clip import ImageTextEncoder, decode_image, load_image_text_encoder
from analyzers.signals.base import SignalResult, Window

log = logging.getLogger(__name__)

SIGNAL = "vision"
VERSION = "1"
MODEL_ENV = "COLDSTART_VISION_MODEL"
BACKEND_ENV = "COLDSTART_VISION_BACKEND"
NO_MODEL = f"no vision model installed (set {MODEL_ENV} to a CLIP/SigLIP hub name or local path)"


@dataclass(frozen=True)
class VisionFrame:
    """One picture of a shot: its keyframe or a sampled frame, as JPEG bytes or a PIL image."""

    shot_index: int
    start_s: float  # the shot's span, not the frame's time
    end_s: float
    image: Any
    key: str | None = None  # storage key of the image, kept as evidence


@dataclass
class VisionOptions:
    model: str | None = None  # hub name or local path; None: $COLDSTART_VISION_MODEL
    backend: str | None = None  # transformers | open_clip; None: $COLDSTART_VISION_BACKEND
    batch_size: int = 32
    device: str | None = None  # None: cuda when present (fp16 there)
    text_cache_dir: str | None = None  # on-disk cache of label embeddings
    scoring: Literal["softmax", "sigmoid"] = "softmax"
    sigmoid_centre: float = 0.25  # cosine at which a label scores 0.5 (sigmoid, no bias)

    def resolved_model(self) -> str | None:
        return self.model or os.environ.get(MODEL_ENV) or None

    def resolved_backend(self) -> str:
        return self.backend or os.environ.get(BACKEND_ENV) or "transformers"

    def version(self) -> str:
        """What decides the scores: the signal code, the backend, model and scoring."""
        centre = f"@{self.sigmoid_centre}" if self.scoring == "sigmoid" else ""
        return (
            f"{SIGNAL}-{VERSION}:{self.resolved_backend()}:{self.resolved_model()}:"
            f"{self.scoring}{centre}"
        )


@dataclass
class KeyframeEmbeddings:
    """Per-shot image embeddings (L2-normalised float32), for the ``visual`` space."""

    model_id: str
    shot_indices: list[int]
    vectors: np.ndarray  # (len(shot_indices), dim)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


@dataclass
class VisionOutput:
    result: SignalResult
    embeddings: KeyframeEmbeddings | None = None
    warnings: list[str] = field(default_factory=list)


class VisionTagger:
    """A loaded encoder plus its label-embedding cache; one per worker process."""

    def __init__(self, encoder: ImageTextEncoder, options: VisionOptions | None = None) -> None:
        self.encoder = encoder
        self.options = options or VisionOptions()
        self.text_cache = EmbeddingCache(self.options.text_cache_dir)

    @classmethod
    def load(cls, options: VisionOptions) -> VisionTagger:
        """Raises :class:`EncoderUnavailable` (with the reason) when no model can be loaded."""
        model = options.resolved_model()
        if not model:
            raise EncoderUnavailable(NO_MODEL)
        encoder = load_image_text_encoder(model, options.resolved_backend(), options.device)
        return cls(encoder, options)

    def label_embeddings(self, prompts: Mapping[str, Sequence[str]]) -> np.ndarray:
        """(labels, dim), rows in ``prompts`` order; the text tower runs once per prompt set
        and is then released where the encoder can (it is loaded again for new prompts)."""
        enc = self.encoder
        key = fingerprint(f"{enc.backend}:{enc.model_id}:{enc.revision}", prompts)
        vecs = self.text_cache.get_or_compute(key, lambda: ensemble(prompts, enc.encode_texts))
        release = getattr(enc, "release_text_tower", None)
        if release is not None:
            release()
        return vecs

    def embed_frames(
        self, frames: Sequence[VisionFrame]
    ) -> tuple[list[VisionFrame], np.ndarray, list[str]]:
        """Decode and embed ``frames`` in batches; undecodable ones are skipped and named."""
        kept: list[VisionFrame] = []
        images: list[Any] = []
        warnings: list[str] = []
        for f in frames:
            try:
                images.append(decode_image(f.image, self.encoder.draft_size))
                kept.append(f)
            except Exception as err:  # PIL raises several types for corrupt data
                msg = f"shot {f.shot_index}: frame {f.key or '?'} not decodable ({err}); skipped"
                log.warning(msg)
                warnings.append(msg)
        size = max(1, self.options.batch_size)
        chunks = [
            self.encoder.encode_images(images[i : i + size]) for i in range(0, len(images), size)
        ]
        vecs = np.concatenate(chunks) if chunks else np.zeros((0, self.encoder.dim), np.float32)
        return kept, vecs, warnings

    def analyze(
        self,
        frames: Sequence[VisionFrame],
        prompts: Mapping[str, Sequence[str]],
        facets: Mapping[str, Sequence[str]] | None = None,
    ) -> VisionOutput:
        """Score every shot in ``frames`` on every label of ``prompts``. ``facets`` groups the
        labels for the softmax (facet -> labels); None puts them all in one facet."""
        version = self.options.version()
        kept, vecs, warnings = self.embed_frames(frames)
        if not kept:
            reason = "no decodable keyframes" if frames else "no keyframes (title has no video)"
            result = SignalResult.absent_because(SIGNAL, version, reason)
            result.extras["warnings"] = warnings
            return VisionOutput(result, None, warnings)
        labels = list(prompts)
        shots = _group_by_shot(kept, vecs)
        shot_vecs = normalise(np.stack([v for _, v in shots.values()]))
        cosine = shot_vecs @ self.label_embeddings(prompts).T
        scores = self._scores(cosine, labels, facets)
        windows = []
        for row, (idx, (first, _)) in enumerate(shots.items()):
            keys = [f.key for f in kept if f.shot_index == idx]
            windows.append(
                Window(
                    start_s=first.start_s,
                    end_s=first.end_s,
                    scores={label: float(scores[row, j]) for j, label in enumerate(labels)},
                    ref={"shot": idx, "keyframes": keys, "frames": len(keys)},
                )
            )
        extras = {
            "model": self.encoder.model_id,
            "backend": self.encoder.backend,
            "scoring": self.options.scoring,
            "labels": labels,
            "cosine": np.round(cosine, 5).tolist(),
            "warnings": warnings,
        }
        result = SignalResult(SIGNAL, version, windows=windows, extras=extras)
        embeddings = KeyframeEmbeddings(self.encoder.model_id, list(shots), shot_vecs)
        return VisionOutput(result, embeddings, warnings)

    def _scores(
        self,
        cosine: np.ndarray,
        labels: list[str],
        facets: Mapping[str, Sequence[str]] | None,
    ) -> np.ndarray:
        scale = self.encoder.logit_scale
        if self.options.scoring == "sigmoid":
            bias = self.encoder.logit_bias
            if bias is None:
                bias = -scale * self.options.sigmoid_centre
            return 1.0 / (1.0 + np.exp(-(scale * cosine + bias)))
        out = np.zeros_like(cosine)
        groups = [[lbl for lbl in g if lbl in labels] for g in (facets or {}).values()]
        covered = {lbl for g in groups for lbl in g}
        groups.append([lbl for lbl in labels if lbl not in covered])  # labels of no facet
        for group in filter(None, groups):
            cols = [labels.index(lbl) for lbl in group]
            logits = scale * cosine[:, cols]
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            out[:, cols] = e / e.sum(axis=1, keepdims=True)
        return out


def _group_by_shot(
    frames: list[VisionFrame], vecs: np.ndarray
) -> dict[int, tuple[VisionFrame, np.ndarray]]:
    """Shot index -> (its first frame, mean of its frames' embeddings), in shot order."""
    groups: dict[int, list[int]] = {}
    for i, f in enumerate(frames):
        groups.setdefault(f.shot_index, []).append(i)
    return {idx: (frames[rows[0]], vecs[rows].mean(axis=0)) for idx, rows in sorted(groups.items())}


_TAGGERS: dict[tuple[str | None, ...], VisionTagger] = {}
_TAGGERS_LOCK = threading.Lock()


def analyze_keyframes(
    frames: Sequence[VisionFrame],
    prompts: Mapping[str, Sequence[str]],
    facets: Mapping[str, Sequence[str]] | None = None,
    options: VisionOptions | None = None,
) -> VisionOutput:
    """The signal for a title: loads (once per process) the configured model, or returns an
    absent result whose reason says why no model could be used."""
    options = options or VisionOptions()
    key = (
        options.resolved_backend(),
        options.resolved_model(),
        options.device,
        options.text_cache_dir,
    )
    try:
        with _TAGGERS_LOCK:
            tagger = _TAGGERS.get(key)
            if tagger is None:
                tagger = _TAGGERS[key] = VisionTagger.load(options)
    except EncoderUnavailable as err:
        return VisionOutput(SignalResult.absent_because(SIGNAL, options.version(), str(err)))
    tagger.options = options  # batch size and scoring may differ per call
    return tagger.analyze(frames, prompts, facets)
