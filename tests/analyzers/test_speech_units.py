"""Pure parts of the speech analyzer: VAD regions, guards, chunk plan and stitch, subtitles."""

from __future__ import annotations

import numpy as np

from analyzers.speech.base import Segment, Word
from analyzers.speech.chunks import Chunk, levels_in_memory, plan_chunks, stitch
from analyzers.speech.guards import apply_guards, collapse_repeats, strip_annotations
from analyzers.speech.subtitles import to_srt, to_vtt
from analyzers.speech.vad import VadOptions, active_regions, collect

SR = 16000


def _tone(seconds: float, level: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _seg(start: float, words: list[tuple[float, float, str]], **kw: float) -> Segment:
    ws = tuple(Word(s, e, " " + t, 0.9) for s, e, t in words)
    return Segment(
        start=start, end=ws[-1].end, text="".join(w.text for w in ws).strip(), words=ws, **kw
    )


def test_energy_vad_keeps_quiet_sound_and_drops_silence() -> None:
    audio = np.concatenate(
        [np.zeros(SR * 3, np.float32), _tone(2, 0.002), np.zeros(SR * 3, np.float32)]
    )
    regions = active_regions(audio, VadOptions(pad_s=0.2))
    assert len(regions) == 1
    start, end = regions[0]
    assert 2.7 <= start <= 3.0 and 5.0 <= end <= 5.3
    assert active_regions(np.zeros(SR * 5, np.float32)) == []


def test_time_map_round_trip() -> None:
    audio = np.arange(SR * 10, dtype=np.float32)
    joined, tmap = collect(audio, [(1.0, 2.0), (5.0, 7.0)])
    assert joined.size == SR * 3
    assert tmap.to_source(0.5) == 1.5
    assert tmap.to_source(1.0) == 5.0  # a start on the join belongs to the next region
    assert tmap.to_source(1.0, is_end=True) == 2.0  # an end on it to the previous one
    assert tmap.to_source(2.5) == 6.5


def test_guards_drop_stock_phrases_loops_and_annotations() -> None:
    thanks = Segment(0, 2, "Thank you for watching!", no_speech_prob=0.7, avg_logprob=-0.4)
    real_thanks = Segment(0, 1, "Thank you.", no_speech_prob=0.05, avg_logprob=-0.2)
    music = Segment(2, 4, "[Music]", no_speech_prob=0.2)
    loop = Segment(4, 9, " ".join(["I'm going home."] * 12), avg_logprob=-0.3)
    lyric = _seg(9, [(9, 9.4, "♪"), (9.4, 10, "Hello"), (10, 10.5, "darkness"), (10.5, 11, "♪")])
    kept = apply_guards([thanks, real_thanks, music, loop, lyric])
    assert [s.text for s in kept] == ["Thank you.", "Hello darkness"]
    assert strip_annotations(Segment(0, 1, "(upbeat music) Go!")).text == "Go!"
    looped = _seg(0, [(i * 0.3, i * 0.3 + 0.3, "na") for i in range(10)] + [(3, 3.3, "hey")])
    assert collapse_repeats(looped).text == "na hey"


def test_chunk_plan_cuts_in_silence_without_overlap() -> None:
    frame_s = 0.02
    levels = np.full(int(90 / frame_s), -20.0, np.float32)
    levels[int(31 / frame_s) : int(32 / frame_s)] = -100.0  # the only silence near 30 s
    levels[int(62 / frame_s) : int(63 / frame_s)] = -100.0
    chunks = plan_chunks(90.0, levels_in_memory(levels), target_s=30, search_s=10)
    assert len(chunks) == 3
    assert abs(chunks[0].end - 31.5) < 0.05 and chunks[1].start == chunks[0].end  # no overlap
    assert abs(chunks[1].end - 62.5) < 0.05 and chunks[2].end == 90.0


def test_chunk_plan_forces_overlapping_cut_without_silence() -> None:
    levels = np.full(int(60 / 0.02), -20.0, np.float32)  # wall-to-wall sound
    chunks = plan_chunks(60.0, levels_in_memory(levels), target_s=30, search_s=5, overlap_s=2.0)
    assert len(chunks) == 2
    a, b = chunks
    assert a.own_end == b.own_start
    assert a.end == a.own_end + 2.0 and b.start == b.own_start - 2.0


def test_stitch_neither_duplicates_nor_loses_words_at_a_forced_seam() -> None:
    a = Chunk(0, 0.0, 32.0, 0.0, 30.0)
    b = Chunk(1, 28.0, 60.0, 30.0, 61.0)
    words = [(27.0, 27.5, "one"), (28.2, 28.8, "two"), (29.6, 30.3, "three"), (31.0, 31.5, "four")]
    # Both chunks saw the words in the overlap; B also cut "one" in half at its edge.
    seg_a = _seg(27.0, words[:4])
    seg_b = _seg(28.0, [(28.0, 28.1, "on"), *words[1:]])
    out = stitch([(b, [seg_b]), (a, [seg_a])])
    assert " ".join(s.text for s in out) == "one two three four"
    # Slightly different timestamps either side of the seam still give one copy.
    seg_a2 = _seg(27.0, [(27.0, 27.5, "one"), (29.7, 29.98, "three")])
    seg_b2 = _seg(30.0, [(30.01, 30.3, "three"), (31.0, 31.5, "four")])
    out = stitch([(a, [seg_a2]), (b, [seg_b2])])
    assert " ".join(s.text for s in out) == "one three four"


def test_stitch_fills_a_sentence_one_chunk_dropped_at_a_forced_seam() -> None:
    """Whisper may leave out a sentence cut off by the end of a chunk's audio; the
    neighbour heard it in the overlap, so its words are taken from there, once."""
    a = Chunk(0, 0.0, 48.0, 0.0, 40.0)
    b = Chunk(1, 32.0, 80.0, 40.0, 81.0)
    early = _seg(10.0, [(10.0, 10.4, "hello"), (10.5, 11.0, "there")])
    sentence = [(34.0, 34.5, "to"), (34.6, 35.0, "the"), (35.1, 35.6, "north"),
                (38.0, 38.5, "and"), (41.0, 41.5, "within"), (42.0, 42.6, "reach")]  # fmt: skip
    seg_a = [early]  # A heard nothing of the sentence that runs past its end
    seg_b = [_seg(32.0, [(32.0, 32.2, "ow"), *sentence])]  # B's first word is cut in half
    out = stitch([(a, seg_a), (b, seg_b)])
    assert " ".join(s.text for s in out) == "hello there to the north and within reach"
    # And the other way round: B dropped the start it heard cut off; A heard it.
    seg_a = [early, _seg(34.0, sentence[:5])]
    seg_b = [_seg(42.0, sentence[5:])]
    out = stitch([(a, seg_a), (b, seg_b)])
    assert " ".join(s.text for s in out) == "hello there to the north and within reach"
    # Without a gap nothing is borrowed: A's words win before the cut, B's after.
    seg_a = [_seg(34.0, sentence[:4])]
    seg_b = [_seg(33.0, [(34.0, 34.5, "two"), *sentence[1:]])]
    out = stitch([(a, seg_a), (b, seg_b)])
    assert " ".join(s.text for s in out) == "to the north and within reach"


def test_vtt_and_srt() -> None:
    segs = [Segment(0.0, 1.5, "Hello <world>"), Segment(3661.25, 3662.0, "Bye")]
    vtt = to_vtt(segs).decode()
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello &lt;world&gt;\n")
    assert "01:01:01.250 --> 01:01:02.000\nBye" in vtt
    srt = to_srt(segs).decode()
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,500\nHello <world>\n\n2\n01:01:01,250")
    long_words = [(i * 0.5, i * 0.5 + 0.4, f"word{i}") for i in range(30)]
    cues = to_vtt([_seg(0, long_words)]).decode().count("-->")
    assert cues >= 3  # long segments are split on word timings
