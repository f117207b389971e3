"""faster-whisper (CTranslate2) backend: the default, int8 on CPU and float16 on CUDA."""

from __future__ import annotations

import os

import numpy as np

from analyzers.speech.base import SAMPLE_RATE, DecodeOptions, Segment, Word, most_likely

# Shortest window the encoder sees for language detection (seconds).
DETECT_WINDOW_S = 8.0


def cuda_available() -> bool:
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count() > 0
    except Exception:  # a broken CUDA install means "no CUDA", not a crash
        return False


def default_compute_type(device: str) -> str:
    # int8 keeps CPU inference ~4x faster than float32 at equal WER; GPUs prefer float16.
    return "float16" if device == "cuda" else "int8"


class FasterWhisperBackend:
    """A loaded CTranslate2 Whisper model. ``model`` is a hub name or a local directory."""

    name = "faster-whisper"

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        device: str = "auto",
        compute_type: str | None = None,
        cpu_threads: int = 0,
        download_root: str | None = None,
        local_files_only: bool = False,
    ) -> None:
        from faster_whisper import WhisperModel

        if device == "auto":
            device = "cuda" if cuda_available() else "cpu"
        self.device = device
        self.compute_type = compute_type or default_compute_type(device)
        self.model_name = os.fspath(model)
        self._model = WhisperModel(
            self.model_name,
            device=device,
            compute_type=self.compute_type,
            cpu_threads=cpu_threads,
            download_root=download_root,
            local_files_only=local_files_only,
        )

    @property
    def is_multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self._model.supported_languages)

    def detect_language(
        self, audio: np.ndarray, exclude: frozenset[str] = frozenset()
    ) -> tuple[str, float]:
        if not self.is_multilingual:
            return "en", 1.0
        # The encoder sees a window of at least DETECT_WINDOW_S (the sample, then silence,
        # as Whisper saw short utterances in training), not one padded to 30 s: on CPU it
        # costs about a tenth of a full window and named the language of every FLEURS and
        # film clip here as well (27/27). The sample alone, unpadded, or a 6 s window
        # misjudged the noisy film clip.
        audio = audio[: 30 * SAMPLE_RATE]
        pad = round(DETECT_WINDOW_S * SAMPLE_RATE) - audio.size
        if pad > 0:
            audio = np.concatenate([audio, np.zeros(pad, np.float32)])
        frames = audio.size // self._model.feature_extractor.hop_length
        features = self._model.feature_extractor(audio)[..., :frames]
        ranked = self._model.model.detect_language(self._model.encode(features))[0]
        return most_likely(((token[2:-2], float(p)) for token, p in ranked), exclude)

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> list[Segment]:
        if audio.size == 0:
            return []
        language = options.language or (None if self.is_multilingual else "en")
        segments, info = self._model.transcribe(
            audio,
            language=language,
            beam_size=options.beam_size,
            temperature=list(options.temperatures),
            compression_ratio_threshold=options.compression_ratio_threshold,
            log_prob_threshold=options.log_prob_threshold,
            no_speech_threshold=options.no_speech_threshold,
            condition_on_previous_text=options.condition_on_previous_text,
            word_timestamps=options.word_timestamps,
            initial_prompt=options.initial_prompt,
            vad_filter=False,  # done by analyzers.speech.vad, which keeps music and singing
        )
        out: list[Segment] = []
        for s in segments:  # a generator: decoding happens while iterating
            words = tuple(
                Word(float(w.start), float(w.end), w.word, float(w.probability))
                for w in (s.words or ())
            )
            out.append(
                Segment(
                    start=float(s.start),
                    end=float(s.end),
                    text=s.text.strip(),
                    language=info.language,
                    avg_logprob=float(s.avg_logprob),
                    no_speech_prob=float(s.no_speech_prob),
                    compression_ratio=float(s.compression_ratio),
                    words=words,
                )
            )
        return out
