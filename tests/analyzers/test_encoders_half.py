"""Compact CPU loading of a CLIP: weights that float16 holds exactly stay float16, the rest
as stored, arithmetic in float32; the scores are the float32 model's. Tiny random CLIPs
(named as such), one rounded as OpenAI's released weights are, one plain float32."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from analyzers.encoders.clip import TransformersClip
from analyzers.encoders.half import read_compact, safetensors_files
from analyzers.encoders.random_clip import save_random_clip


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(5)
    out = []
    for _ in range(3):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
        out.append(Image.open(io.BytesIO(buf.getvalue())))
    return out


def _reference(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """The plain float32 model's image and text features, as transformers computes them."""
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32).eval()
    proc = AutoProcessor.from_pretrained(path, local_files_only=True)
    with torch.inference_mode():
        img = model.get_image_features(**proc(images=_images(), return_tensors="pt"))
        tok = proc(text=["a photo of a cat", "a dark night"], return_tensors="pt", padding=True)
        tok = {k: v for k, v in tok.items() if k in ("input_ids", "attention_mask")}
        txt = model.get_text_features(**tok)
    img, txt = (getattr(t, "pooler_output", t) for t in (img, txt))
    unit = [torch.nn.functional.normalize(t, dim=-1).numpy() for t in (img, txt)]
    return unit[0], unit[1], float(model.logit_scale.detach().exp())


@pytest.mark.parametrize("released", [True, False])
def test_compact_clip_gives_the_float32_models_features(tmp_path: Path, released: bool) -> None:
    path = save_random_clip(tmp_path / "tiny-random-clip", "tiny", released_fp16=released)
    enc = TransformersClip(path, device="cpu")
    linear = enc.model.vision_model.encoder.layers[0].mlp.fc1
    if released:
        assert enc.weights.startswith("float32 (exact float16")
        assert linear.parametrizations.weight.original.dtype == torch.float16
        assert linear.weight.dtype == linear.bias.dtype == torch.float32
    else:  # nothing float16 holds exactly: loaded as usual
        assert enc.weights == "float32" and linear.weight.dtype == torch.float32
    img, txt, scale = _reference(path)
    assert np.allclose(enc.encode_images(_images()), img, atol=1e-6)
    assert np.allclose(enc.encode_texts(["a photo of a cat", "a dark night"]), txt, atol=1e-6)
    assert enc.logit_scale == pytest.approx(scale, abs=0)


def test_only_exactly_representable_matrices_become_float16(tmp_path: Path) -> None:
    path = save_random_clip(tmp_path / "tiny-random-clip", "tiny", released_fp16=True)
    files = safetensors_files(str(path))
    assert files == [path / "model.safetensors"]
    state = read_compact(files)
    half = {k for k, v in state.items() if v.dtype == torch.float16}
    assert "vision_model.encoder.layers.0.mlp.fc1.weight" in half
    assert "visual_projection.weight" in half
    # Embeddings and norms were never rounded, biases are vectors: all as stored.
    assert "text_model.embeddings.token_embedding.weight" not in half
    assert not any(k.endswith(("bias", "layer_norm1.weight")) for k in half)
    assert safetensors_files(str(tmp_path / "nowhere")) is None


def test_text_tower_is_released_after_the_labels_and_reloaded_for_new_ones(tmp_path: Path) -> None:
    from analyzers.signals.vision import VisionFrame, VisionOptions, VisionTagger

    path = save_random_clip(tmp_path / "tiny-random-clip", "tiny", released_fp16=True)
    tagger = VisionTagger.load(VisionOptions(model=str(path), device="cpu"))
    enc = tagger.encoder
    before = enc.encode_texts(["a photo of a cat", "a dark night"])
    frames = [VisionFrame(0, 0.0, 2.0, image) for image in _images()[:1]]
    first = tagger.analyze(frames, {"cat": ["a photo of a cat"], "night": ["a dark night"]})
    assert enc.model.text_model is None and enc.model.text_projection is None
    # Cached prompts need no text tower; new ones load it again, with the same weights.
    again = tagger.analyze(frames, {"cat": ["a photo of a cat"], "night": ["a dark night"]})
    assert again.result.windows[0].scores == first.result.windows[0].scores
    assert enc.model.text_model is None
    tagger.analyze(frames, {"dog": ["a photo of a dog"]})
    assert np.allclose(enc.encode_texts(["a photo of a cat", "a dark night"]), before, atol=1e-6)
    assert enc.model.vision_model is not None
