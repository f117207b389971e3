"""CLIP-style image and text encoders behind one Protocol.

``TransformersClip`` loads any CLIP or SigLIP checkpoint that ``transformers`` knows, named by
a hub name or a local directory, with ``local_files_only=True``: nothing is downloaded at run
time (``coldstart models install`` or a mounted directory puts the files there). ``OpenClip``
is the optional ``open_clip`` backend (extra ``openclip``); it is absent when not importable.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from analyzers.encoders import EncoderUnavailable, half
from analyzers.encoders.cache import normalise
from analyzers.memory import release_freed

log = logging.getLogger(__name__)

ImageInput = Any  # JPEG/PNG bytes or a PIL image


class ImageTextEncoder(Protocol):
    """A loaded image/text model; every vector is L2-normalised float32."""

    backend: str
    model_id: str  # what identifies the weights in cache keys (hub name or path)
    dim: int
    revision: str  # changes when the weights behind model_id change (local files' stamp)
    logit_scale: float  # the model's learned temperature (CLIP: ~100)
    logit_bias: float | None  # SigLIP's learned bias; None for CLIP
    draft_size: int | None  # JPEG keyframes may be decoded at reduced size down to this

    def encode_images(self, images: Sequence[Any]) -> np.ndarray: ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...


def resolve_device(device: str | None) -> str:
    """``None`` or ``"auto"``: CUDA when torch sees a GPU, else CPU."""
    if device not in (None, "auto"):
        return str(device)
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def decode_image(image: ImageInput, draft_size: int | None = None):
    """A PIL RGB image from bytes or a PIL image. ``draft_size`` lets the JPEG decoder scale
    down by 1/2-1/8 while decoding (never below the size), which is most of the decode time
    saved on large keyframes. Raises on undecodable bytes."""
    from PIL import Image

    if isinstance(image, bytes | bytearray | memoryview):
        img = Image.open(io.BytesIO(bytes(image)))
        if draft_size and img.format == "JPEG":
            img.draft("RGB", (draft_size, draft_size))
        img.load()
    else:
        img = image
    return img.convert("RGB") if img.mode != "RGB" else img


def _features(out: Any):
    # transformers 5 returns a model output whose pooler_output is the projected embedding;
    # earlier versions returned the tensor itself.
    return out if hasattr(out, "shape") else out.pooler_output


class TransformersClip:
    """CLIP/SigLIP via ``transformers`` (``AutoModel`` + ``AutoProcessor``); fp16 on CUDA."""

    backend = "transformers"

    def __init__(self, model: str | Path, device: str | None = None) -> None:
        try:
            import torch
            from transformers import AutoModel, AutoProcessor
        except ImportError as err:  # pragma: no cover - the ml extra is missing
            raise EncoderUnavailable(f"transformers/torch not importable: {err}") from err
        name = str(model)
        if _looks_local(name) and not Path(name).expanduser().exists():
            raise EncoderUnavailable(f"vision model path {name} does not exist")
        self.device = resolve_device(device)
        self.dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        self._name, self._auto = name, AutoModel
        try:
            self.processor = AutoProcessor.from_pretrained(name, local_files_only=True)
            self.model, self.weights = self._load()
        except (OSError, ValueError) as err:
            raise EncoderUnavailable(f"vision model {name} cannot be loaded here: {err}") from err
        self._text_parts: list[str] = []  # text-tower modules released (release_text_tower)
        self._lock = threading.Lock()
        release_freed()
        self.model_id = name
        self.revision = _local_stamp(Path(name).expanduser())
        # CLIP projects to projection_dim; SigLIP's embedding is the towers' hidden size.
        cfg = self.model.config
        self.dim = int(getattr(cfg, "projection_dim", 0) or cfg.text_config.hidden_size)
        self.logit_scale = float(self.model.logit_scale.exp().item())
        bias = getattr(self.model, "logit_bias", None)
        self.logit_bias = None if bias is None else float(bias.item())
        size = getattr(self.processor.image_processor, "size", None) or {}
        self.draft_size = size.get("shortest_edge") or size.get("height")
        self._torch = torch

    def _load(self) -> tuple[Any, str]:
        """The model in eval mode on the device, and how its weights are held. On the CPU,
        weights that float16 holds exactly (OpenAI CLIP's linear layers) are kept in float16
        and run in float32: the same scores in half the memory. fp16 throughout on CUDA."""
        files = half.safetensors_files(self._name) if self.device == "cpu" else None
        net = None
        if files:
            net = half.load_compact(self._auto, self._name, files, local_files_only=True)
        if net is not None:
            return net.to(self.device), "float32 (exact float16 weights kept as float16)"
        net = self._auto.from_pretrained(self._name, local_files_only=True, dtype=self.dtype)
        return net.eval().to(self.device), str(self.dtype).removeprefix("torch.")

    def release_text_tower(self) -> None:
        """Free the text tower (every ``text_*`` module of the model): once the label
        prompts are embedded (and cached) only images are encoded, title after title.
        :meth:`encode_texts` loads it again when new prompts come."""
        with self._lock:
            if self._text_parts:
                return
            self._text_parts = [n for n, _ in self.model.named_children() if n.startswith("text")]
            for part in self._text_parts:
                setattr(self.model, part, None)
        release_freed(collect=True)

    def _ensure_text_tower(self) -> None:
        with self._lock:
            if not self._text_parts:
                return
            fresh, _ = self._load()
            for part in self._text_parts:
                setattr(self.model, part, getattr(fresh, part))
            self._text_parts = []
            del fresh
        release_freed(collect=True)

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        pil = [decode_image(im, self.draft_size) for im in images]
        inputs = self.processor(images=pil, return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self.dtype)
        with self._torch.inference_mode():
            feats = _features(self.model.get_image_features(pixel_values=pixels))
        out = normalise(feats.float().cpu().numpy())
        del inputs, pixels, feats
        release_freed()  # a batch's activations: hundreds of MB the heap would keep
        return out

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        self._ensure_text_tower()
        # SigLIP was trained on max_length padding; CLIP works with either.
        padding = "max_length" if "siglip" in self.model.config.model_type else True
        inputs = self.processor(
            text=list(texts), return_tensors="pt", padding=padding, truncation=True
        )
        inputs = {k: v.to(self.device) for k, v in inputs.items() if k != "pixel_values"}
        with self._torch.inference_mode():
            feats = _features(self.model.get_text_features(**inputs))
        out = normalise(feats.float().cpu().numpy())
        del inputs, feats
        release_freed()
        return out


def _local_stamp(path: Path) -> str:
    """Size and mtime of a local checkpoint's files ("" for a hub name): a cache key part."""
    if not path.is_dir():
        return ""
    files = sorted(p for p in path.iterdir() if p.suffix in {".json", ".safetensors", ".bin"})
    return ";".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)


def _looks_local(name: str) -> bool:
    # A hub name is "owner/repo"; anything with more parts, or rooted, is a path.
    return name.startswith(("/", ".", "~")) or name.count("/") > 1


class OpenClip:
    """``open_clip`` backend: ``model`` is ``"ARCH:PRETRAINED"`` (a tag or a checkpoint file)."""

    backend = "open_clip"

    def __init__(self, model: str, device: str | None = None) -> None:
        try:
            import open_clip
            import torch
        except ImportError as err:
            raise EncoderUnavailable(
                "open_clip is not installed (pip install 'coldstart[openclip]')"
            ) from err
        arch, _, pretrained = model.partition(":")
        self.device = resolve_device(device)
        try:
            net, _, preprocess = open_clip.create_model_and_transforms(
                arch, pretrained=pretrained or None, device=self.device
            )
        except Exception as err:  # open_clip raises RuntimeError/OSError/ValueError
            raise EncoderUnavailable(f"open_clip model {model} cannot be loaded: {err}") from err
        if self.device.startswith("cuda"):
            net = net.half()
        self.model, self.preprocess = net.eval(), preprocess
        self.tokenizer = open_clip.get_tokenizer(arch)
        self.model_id = f"open_clip:{model}"
        self.revision = ""
        self.logit_scale = float(net.logit_scale.exp().item())
        bias = getattr(net, "logit_bias", None)
        self.logit_bias = None if bias is None else float(bias.item())
        self.draft_size = None
        self._torch = torch
        self.dim = int(self.encode_texts(["x"]).shape[1])

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        batch = self._torch.stack([self.preprocess(decode_image(im)) for im in images])
        dtype = next(self.model.parameters()).dtype
        with self._torch.inference_mode():
            feats = self.model.encode_image(batch.to(self.device, dtype))
        return normalise(feats.float().cpu().numpy())

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        with self._torch.inference_mode():
            feats = self.model.encode_text(self.tokenizer(list(texts)).to(self.device))
        return normalise(feats.float().cpu().numpy())


BACKENDS = {"transformers": TransformersClip, "open_clip": OpenClip}


def load_image_text_encoder(
    model: str | Path, backend: str = "transformers", device: str | None = None
) -> ImageTextEncoder:
    """Load ``model`` with ``backend``; raises :class:`EncoderUnavailable` with the reason."""
    if backend not in BACKENDS:
        raise EncoderUnavailable(f"unknown vision backend {backend!r} (one of {list(BACKENDS)})")
    return BACKENDS[backend](str(model), device=device)
