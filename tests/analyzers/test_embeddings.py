"""The embedding spaces and the fused vector as pure functions: unit float32 vectors, versions
that change with what changes the vectors, absences recorded instead of faked vectors. The
``text`` space runs on the real MiniLM weights; ``visual`` on a tiny randomly initialised CLIP
(named as such: no real CLIP weights ship offline)."""

from __future__ import annotations

import numpy as np
import pytest

import taxonomy
from analyzers.embeddings import fused, profile, style, text, visual
from analyzers.signals import style as style_signal
from analyzers.signals.base import SignalResult, Window


def _is_unit(v: np.ndarray) -> bool:
    return v.dtype == np.float32 and abs(float(np.linalg.norm(v)) - 1.0) < 1e-5


def _shots(luma: float, n: int = 4, length: float = 3.0) -> list[dict]:
    feats = {"luma_mean": luma, "luma_spread": 0.1, "saturation": 0.3, "colorfulness": 40.0}
    return [
        {
            "idx": i,
            "start_s": i * length,
            "end_s": (i + 1) * length,
            "features": {**feats, "motion": 0.02},
        }
        for i in range(n)
    ]


def _audio(loudness: float) -> SignalResult:
    r = SignalResult("audio", "a1")
    r.windows = [Window(0, 5, {"loudness": loudness, "energy": 0.5, "music_share": 0.2})]
    return r


def test_style_vectors_are_unit_and_follow_the_look() -> None:
    spec = style.spec()
    dark = style.embed(spec, style_signal.analyze(_shots(0.1)), _audio(0.7))
    dark2 = style.embed(spec, style_signal.analyze(_shots(0.12)), _audio(0.72))
    bright = style.embed(spec, style_signal.analyze(_shots(0.7)), _audio(0.3))
    for out in (dark, bright):
        assert out.absent is None and all(_is_unit(r.vector) for r in out.rows)
        assert {r.scope for r in out.rows} == {"title", "shot"}
        assert all(r.vector.shape == (spec.dim,) for r in out.rows)
    assert float(dark.title @ dark2.title) > float(dark.title @ bright.title)


def test_style_of_a_title_with_no_video_and_no_audio_is_valid_and_records_absence() -> None:
    out = style.embed(style.spec(), style_signal.analyze([]), None)
    assert out.absent is None and _is_unit(out.title)
    assert out.info["absent_parts"] == ["video", "audio"]


def test_profile_has_a_fixed_label_order_and_unknown_is_neutral() -> None:
    tax = taxonomy.load()
    spec = profile.spec(tax)
    assert spec.dim == len(profile.label_order(tax)) + 1
    assert profile.embed(spec, None, None).absent == "not tagged"
    mood = [label.id for label in tax.labels("mood")]
    arc = {
        "scenes": [{"index": 0, "start_s": 0.0, "end_s": 10.0}],
        "mood": {mood[0]: [0.9], mood[1]: [None]},
        "tone": {},
    }
    out = profile.embed(spec, arc, {})
    assert _is_unit(out.title) and {r.scope for r in out.rows} == {"title", "scene"}
    raw = out.title / out.title[-1] * profile.BIAS  # undo the normalisation
    order = spec.params["order"]
    assert raw[order.index(f"mood:{mood[0]}")] == pytest.approx(0.4, abs=1e-4)
    assert raw[order.index(f"mood:{mood[1]}")] == 0.0  # no score: neutral, not low


def test_fused_records_parts_and_weights_similarity_by_the_parts_both_have() -> None:
    specs = {
        "visual": visual.spec("clip-x", 8),
        "text": text.spec("minilm", 4),
        "profile": profile.spec(taxonomy.load()),
        "style": style.spec(),
    }
    space = fused.spec(specs)
    rng = np.random.default_rng(0)
    t, s = rng.standard_normal(4), rng.standard_normal(space.params["dims"]["style"])
    a = fused.fuse(space, {"text": t, "style": s})
    b = fused.fuse(space, {"text": t, "style": -s})
    assert a.info["present"] == ["text", "style"] and a.info["absent"] == ["visual", "profile"]
    assert _is_unit(a.title) and a.title.shape == (space.dim,)
    w = fused.WEIGHTS
    # Same text, opposite style: cosine = (w_text - w_style) / (w_text + w_style).
    expected = (w["text"] - w["style"]) / (w["text"] + w["style"])
    assert float(a.title @ b.title) == pytest.approx(expected, abs=1e-5)
    assert fused.fuse(space, {}).absent == "no part present"


def test_versions_change_with_models_and_never_coincide_across_spaces() -> None:
    assert text.spec("m1", 384).version != text.spec("m2", 384).version
    assert visual.spec("clip-a").version != visual.spec("clip-b").version
    base = {"visual": visual.spec("a"), "text": text.spec("m1", 384)}
    base |= {"profile": profile.spec(taxonomy.load()), "style": style.spec()}
    other = {**base, "text": text.spec("m2", 384)}
    assert fused.spec(base).version != fused.spec(other).version
    assert fused.spec(base).version == fused.spec(dict(base)).version  # deterministic


def test_text_space_on_real_minilm_puts_same_theme_transcripts_closer() -> None:
    from analyzers.encoders.text import SentenceEncoder

    enc = SentenceEncoder()
    spec = text.spec(enc.model_id, enc.dim)

    def embed(*lines: str) -> np.ndarray:
        segs = [{"start": 4.0 * i, "end": 4.0 * i + 3, "text": x} for i, x in enumerate(lines)]
        out = text.embed(spec, segs, enc)
        assert out.absent is None and all(_is_unit(r.vector) for r in out.rows)
        return out.title

    sea = embed("The fishing boats left the harbour at dawn.", "Waves broke over the deck.")
    sea2 = embed("Sailors hauled the nets aboard.", "The storm pushed the ship towards the rocks.")
    cook = embed("Chop the onions finely.", "Simmer the sauce for twenty minutes.")
    assert float(sea @ sea2) > float(sea @ cook)
    assert (
        text.embed(spec, [{"start": 0, "end": 1, "text": "[music]"}], enc).absent == "no transcript"
    )


def test_visual_space_with_tiny_random_clip_weights_shots_by_duration(tmp_path) -> None:
    from analyzers.encoders.clip import TransformersClip
    from analyzers.encoders.random_clip import save_random_clip

    enc = TransformersClip(save_random_clip(tmp_path / "tiny-random-clip", "tiny"), device="cpu")
    from PIL import Image

    images = [Image.new("RGB", (32, 32), c) for c in ("red", "blue")]
    vecs = enc.encode_images(images)
    spec = visual.spec("tiny-random-clip", enc.dim)
    long_red = visual.embed(spec, [0, 1], vecs, {0: (0.0, 9.0), 1: (9.0, 10.0)})
    assert long_red.absent is None and all(_is_unit(r.vector) for r in long_red.rows)
    red, blue = vecs[0] / np.linalg.norm(vecs[0]), vecs[1] / np.linalg.norm(vecs[1])
    assert float(long_red.title @ red) > float(long_red.title @ blue)
    assert visual.embed(spec, [], None, {}).absent == "no keyframe embeddings"
