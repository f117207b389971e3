"""openai-whisper (PyTorch) backend: the reference implementation, also used as the peer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from analyzers.speech.base import DecodeOptions, Segment, Word, most_likely


class OpenAIWhisperBackend:
    """``model`` is an openai-whisper name ("tiny.en") or a local ``.pt`` checkpoint.

    A checkpoint may have a ``<name>.json`` beside it with ``alignment_heads`` (the
    converter writes one); without it whisper uses the last half of the decoder layers.
    """

    name = "openai-whisper"

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        device: str = "auto",
        cpu_threads: int = 0,
        download_root: str | None = None,
    ) -> None:
        import torch
        import whisper

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if cpu_threads:
            torch.set_num_threads(cpu_threads)
        self.device = device
        self.model_name = os.fspath(model)
        self._model = whisper.load_model(
            self.model_name, device=device, download_root=download_root
        )
        self._set_alignment_heads(Path(self.model_name))

    def _set_alignment_heads(self, path: Path) -> None:
        sidecar = path.with_suffix(".json")
        if not (path.is_file() and sidecar.is_file()):
            return
        heads = json.loads(sidecar.read_text()).get("alignment_heads")
        if not heads:
            return
        import torch

        dims = self._model.dims
        mask = torch.zeros(dims.n_text_layer, dims.n_text_head, dtype=torch.bool)
        for layer, head in heads:
            mask[layer, head] = True
        self._model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)

    @property
    def is_multilingual(self) -> bool:
        return bool(self._model.is_multilingual)

    @property
    def languages(self) -> frozenset[str]:
        from whisper.tokenizer import LANGUAGES

        if not self.is_multilingual:
            return frozenset({"en"})
        return frozenset(list(LANGUAGES)[: self._model.num_languages])

    def detect_language(
        self, audio: np.ndarray, exclude: frozenset[str] = frozenset()
    ) -> tuple[str, float]:
        if not self.is_multilingual:
            return "en", 1.0
        import whisper

        audio = whisper.pad_or_trim(audio.astype(np.float32))
        mel = whisper.log_mel_spectrogram(audio, self._model.dims.n_mels).to(self._model.device)
        _, probs = self._model.detect_language(mel)
        return most_likely(((lang, float(p)) for lang, p in probs.items()), exclude)

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> list[Segment]:
        if audio.size == 0:
            return []
        language = options.language or (None if self.is_multilingual else "en")
        result = self._model.transcribe(
            audio.astype(np.float32),
            language=language,
            beam_size=options.beam_size,
            best_of=options.beam_size,
            temperature=options.temperatures,
            compression_ratio_threshold=options.compression_ratio_threshold,
            logprob_threshold=options.log_prob_threshold,
            no_speech_threshold=options.no_speech_threshold,
            condition_on_previous_text=options.condition_on_previous_text,
            word_timestamps=options.word_timestamps,
            initial_prompt=options.initial_prompt,
            fp16=self.device == "cuda",
            verbose=None,
        )
        detected = result.get("language") or language
        out: list[Segment] = []
        for s in result["segments"]:
            words = tuple(
                Word(float(w["start"]), float(w["end"]), w["word"], float(w["probability"]))
                for w in s.get("words", ())
            )
            out.append(
                Segment(
                    start=float(s["start"]),
                    end=float(s["end"]),
                    text=s["text"].strip(),
                    language=detected,
                    avg_logprob=float(s["avg_logprob"]),
                    no_speech_prob=float(s["no_speech_prob"]),
                    compression_ratio=float(s["compression_ratio"]),
                    words=words,
                )
            )
        return out
