"""Vision-language signal, tested with a tiny randomly initialised CLIP built in the test.

No CLIP/SigLIP weights ship offline, so these tests check the real loading, batching, prompt
caching, scoring and absence code on a random model: its scores carry no meaning, only
their shapes, consistency and agreement with the reference transformers pipeline do."""

from __future__ import annotations

import importlib.util
import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("transformers")

from analyzers.encoders.random_clip import save_random_clip
from analyzers.signals.base import SignalResult
from analyzers.signals.vision import (
    MODEL_ENV,
    VisionFrame,
    VisionOptions,
    VisionTagger,
    analyze_keyframes,
)

PROMPTS = {
    "tense": ["a tense scene", "a film still full of tension"],
    "joyful": ["a joyful scene"],
    "calm": ["a calm scene", "a peaceful, quiet film still"],
    "dark": ["a dark, gloomy image"],
    "lighthearted": ["a lighthearted, bright image"],
}
FACETS = {"mood": ["tense", "joyful", "calm"], "tone": ["dark", "lighthearted"]}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> str:
    return str(save_random_clip(tmp_path_factory.mktemp("tiny-random-clip"), "tiny"))


def jpeg(seed: int, size: tuple[int, int] = (48, 40)) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG")
    return buf.getvalue()


def frames(n: int) -> list[VisionFrame]:
    return [VisionFrame(i, 2.0 * i, 2.0 * i + 2.0, jpeg(i), key=f"kf/{i}.jpg") for i in range(n)]


def tagger(path: str, **kw) -> VisionTagger:
    return VisionTagger.load(VisionOptions(model=path, device="cpu", **kw))


def test_tiny_random_clip_loads_by_path_and_scores_every_shot_on_every_label(tiny_clip):
    out = tagger(tiny_clip).analyze(frames(5), PROMPTS, FACETS)
    res = out.result
    assert res.present and res.signal == "vision"
    assert [w.ref["shot"] for w in res.windows] == [0, 1, 2, 3, 4]
    assert [(w.start_s, w.end_s) for w in res.windows][1] == (2.0, 4.0)
    assert res.windows[3].ref["keyframes"] == ["kf/3.jpg"]
    for w in res.windows:
        assert set(w.scores) == set(PROMPTS)
        assert all(0.0 <= v <= 1.0 for v in w.scores.values())
        # softmax within each facet
        for labels in FACETS.values():
            assert sum(w.scores[lbl] for lbl in labels) == pytest.approx(1.0, abs=1e-5)
    emb = out.embeddings
    assert emb is not None and emb.shot_indices == [0, 1, 2, 3, 4]
    assert emb.vectors.shape == (5, 16) and emb.vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb.vectors, axis=1), 1.0, atol=1e-5)
    assert np.asarray(res.extras["cosine"]).shape == (5, len(PROMPTS))
    assert SignalResult.from_dict(res.to_dict()) == res


def test_tiny_random_clip_results_do_not_depend_on_batch_size(tiny_clip):
    outs = [tagger(tiny_clip, batch_size=b).analyze(frames(7), PROMPTS) for b in (1, 3, 32)]
    ref = outs[0]
    for out in outs[1:]:
        assert np.allclose(out.embeddings.vectors, ref.embeddings.vectors, atol=1e-5)
        assert np.allclose(out.result.extras["cosine"], ref.result.extras["cosine"], atol=1e-4)
    # and different images do give different embeddings (the model is not constant)
    assert not np.allclose(ref.embeddings.vectors[0], ref.embeddings.vectors[1], atol=1e-3)


def test_tiny_random_clip_prompt_ensemble_is_encoded_once_per_prompt_set(tiny_clip, tmp_path):
    t = tagger(tiny_clip, text_cache_dir=str(tmp_path / "cache"))
    calls: list[int] = []
    encode = t.encoder.encode_texts
    t.encoder.encode_texts = lambda texts: calls.append(len(texts)) or encode(texts)
    first = t.analyze(frames(3), PROMPTS, FACETS)
    t.analyze(frames(4), PROMPTS, FACETS)
    assert calls == [sum(len(v) for v in PROMPTS.values())]  # one call, every prompt at once
    t.analyze(frames(2), {**PROMPTS, "eerie": ["an eerie scene"]})
    assert len(calls) == 2  # a new taxonomy is a new entry
    # a fresh process (new tagger) reads the disk cache: the text tower is not run at all
    again = tagger(tiny_clip, text_cache_dir=str(tmp_path / "cache"))
    again.encoder.encode_texts = lambda texts: pytest.fail("text tower ran despite the cache")
    second = again.analyze(frames(3), PROMPTS, FACETS)
    assert second.result.extras["cosine"] == first.result.extras["cosine"]


def test_tiny_random_clip_scores_match_the_transformers_pipeline(tiny_clip):
    from transformers import pipeline

    labels = ["cat", "dog", "car"]
    prompts = {lbl: [f"This is a photo of {lbl}."] for lbl in labels}  # the pipeline's template
    pipe = pipeline("zero-shot-image-classification", model=tiny_clip, device="cpu")
    image = Image.open(io.BytesIO(jpeg(11)))
    expected = {r["label"]: r["score"] for r in pipe(image, candidate_labels=labels)}
    got = tagger(tiny_clip).analyze([VisionFrame(0, 0.0, 1.0, image)], prompts)
    assert got.result.windows[0].scores == pytest.approx(expected, abs=1e-4)


def test_tiny_random_clip_several_frames_of_a_shot_give_one_window_and_a_mean(tiny_clip):
    t = tagger(tiny_clip)
    single = t.analyze([VisionFrame(0, 0, 3, jpeg(1)), VisionFrame(1, 3, 5, jpeg(2))], PROMPTS)
    both = t.analyze([VisionFrame(0, 0, 3, jpeg(1)), VisionFrame(0, 0, 3, jpeg(2))], PROMPTS)
    assert len(both.result.windows) == 1 and both.result.windows[0].ref["frames"] == 2
    mean = single.embeddings.vectors.mean(axis=0)
    assert np.allclose(both.embeddings.vectors[0], mean / np.linalg.norm(mean), atol=1e-5)


def test_tiny_random_clip_undecodable_keyframe_is_skipped_with_a_warning(tiny_clip):
    bad = VisionFrame(1, 2.0, 4.0, b"\xff\xd8 not a jpeg", key="kf/1.jpg")
    out = tagger(tiny_clip).analyze([frames(1)[0], bad, *frames(3)[2:]], PROMPTS)
    assert [w.ref["shot"] for w in out.result.windows] == [0, 2]
    assert len(out.warnings) == 1 and "kf/1.jpg" in out.warnings[0]
    only_bad = tagger(tiny_clip).analyze([bad], PROMPTS)
    assert not only_bad.result.present
    assert "no decodable keyframes" in only_bad.result.absent.reason


def test_tiny_random_clip_sigmoid_scoring_is_per_label(tiny_clip):
    t = tagger(tiny_clip, scoring="sigmoid", sigmoid_centre=0.1)
    out = t.analyze(frames(2), PROMPTS, FACETS)
    cos = np.asarray(out.result.extras["cosine"])
    scale = t.encoder.logit_scale
    expected = 1 / (1 + np.exp(-scale * (cos - 0.1)))
    got = np.array([[w.scores[lbl] for lbl in PROMPTS] for w in out.result.windows])
    assert np.allclose(got, expected, atol=1e-4)
    assert out.result.version.endswith("sigmoid@0.1")


def test_missing_model_path_is_absent_with_the_reason(tmp_path):
    missing = str(tmp_path / "no-such-model")
    out = analyze_keyframes(frames(2), PROMPTS, options=VisionOptions(model=missing))
    assert not out.result.present and out.embeddings is None
    assert missing in out.result.absent.reason


def test_no_model_configured_is_absent_with_the_reason(monkeypatch):
    monkeypatch.delenv(MODEL_ENV, raising=False)
    out = analyze_keyframes(frames(2), PROMPTS)
    assert not out.result.present
    assert "no vision model installed" in out.result.absent.reason
    assert MODEL_ENV in out.result.absent.reason


def test_open_clip_backend_is_absent_when_not_importable(tiny_clip):
    if importlib.util.find_spec("open_clip") is not None:  # an optional extra
        pytest.skip("open_clip is installed")
    opts = VisionOptions(model="ViT-B-32:laion2b_s34b_b79k", backend="open_clip")
    out = analyze_keyframes(frames(1), PROMPTS, options=opts)
    assert not out.result.present and "open_clip" in out.result.absent.reason


def test_tiny_random_clip_title_without_keyframes_is_absent(tiny_clip):
    out = tagger(tiny_clip).analyze([], PROMPTS)
    assert not out.result.present and "no keyframes" in out.result.absent.reason
