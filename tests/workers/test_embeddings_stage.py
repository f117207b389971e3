"""The embeddings stage in the in-process pipeline, on a generated silent title (no audio, so
no transcript) with the vision stage on a tiny randomly initialised CLIP (no real CLIP weights
ship offline; its vectors mean nothing, the wiring is what is tested)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from analyzers.encoders.random_clip import save_random_clip
from storage import migrate, vectors
from storage import repository as repo
from storage.db import session_scope
from storage.documents import title_document
from tests.analyzers.speech_media import ffmpeg
from workers.ingest import ingest_file
from workers.pipeline import run_pipeline
from workers.services import derived_store
from workers.settings import Settings
from workers.stages import embeddings as stage


@pytest.fixture(scope="module")
def enriched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, int]]:
    tmp = tmp_path_factory.mktemp("emb")
    clip = tmp / "silent.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10:duration=4",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip),
    )  # fmt: skip
    tiny = save_random_clip(tmp / "tiny-random-clip", "tiny")
    settings = Settings(data_dir=tmp / "var", vision_model=str(tiny))
    migrate.upgrade(settings.effective_database_url)
    ingested = ingest_file(settings, clip)
    assert run_pipeline(settings, ingested.run_id) == "succeeded"
    yield settings, ingested.title_id


def _doc(settings: Settings, title_id: int) -> dict:
    with session_scope(settings.effective_database_url) as s:
        return title_document(s, repo.get_title(s, title_id))


def test_silent_title_gets_style_profile_fused_and_tiny_random_clip_visual(
    enriched: tuple[Settings, int],
) -> None:
    settings, title_id = enriched
    doc = _doc(settings, title_id)
    listed = {e["space"]: e for e in doc["embedding_spaces"]}
    assert listed["text"]["absent"] == "no transcript" and listed["text"]["dim"] == 0
    spaces = {n: e for n, e in listed.items() if e["absent"] is None}
    assert set(spaces) == {"visual", "style", "profile", "fused"}  # no transcript: no text
    assert spaces["visual"]["dim"] == 16  # the tiny random CLIP's projection
    fused = spaces["fused"]
    assert set(fused["parts_present"]) == {"visual", "style", "profile"}
    assert fused["parts_absent"] == ["text"]
    assert all(e["status"] == "active" for e in spaces.values())
    with session_scope(settings.effective_database_url) as s:
        for name in spaces:
            space = vectors.active_space(s, name)
            got = vectors.title_vector(s, title_id, space)
            assert got is not None and got[0].dtype == np.float32
            assert abs(float(np.linalg.norm(got[0])) - 1.0) < 1e-5
            assert space.dim == got[0].shape[0]


def test_text_model_change_recomputes_only_text_and_fused(
    enriched: tuple[Settings, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, title_id = enriched
    before = stage.space_specs(settings)
    key_before = stage.stage_version(settings)
    monkeypatch.setattr(stage, "_text_model", lambda: ("another-sentence-model", 384))
    after = stage.space_specs(settings)
    changed = {n for n in before if before[n].version != after[n].version}
    assert changed == {"text", "fused"}
    assert stage.stage_version(settings) != key_before  # the stage's cache key moves
    ref = stage.TitleRef(settings.effective_database_url, title_id, derived_store(settings))
    src = stage.load_sources(ref, after["visual"].model)
    writes, report = stage.embed_title(
        settings.effective_database_url, after, src, title_id, stage.SPACES
    )
    # text: the new version records its absence (still no transcript); fused is recomputed
    assert [(out.spec.name, out.absent) for out, _ in writes] == [
        ("text", "no transcript"),
        ("fused", None),
    ]
    assert report["style"]["reused"] and report["profile"]["reused"] and report["visual"]["reused"]
    with session_scope(settings.effective_database_url) as s:
        for out, inputs in writes:
            stage.save(s, title_id, out, inputs)
    with session_scope(settings.effective_database_url) as s:
        new = vectors.get_space(s, "fused", after["fused"].version)
        old = vectors.get_space(s, "fused", before["fused"].version)
        # The old version keeps serving; the new one is built beside it, never mixed.
        assert old.status == "active" and new.status == "building"
        assert vectors.title_vector(s, title_id, old) is not None
        assert vectors.title_vector(s, title_id, new) is not None
