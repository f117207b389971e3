"""Re-analysis is never stale: a stage's cache key covers the stored keys of the stages it
reads (transitively) and the taxonomy fingerprint, so changing an upstream version or the
taxonomy file recomputes exactly the stages downstream of it, and nothing else."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import taxonomy
from storage import repository as repo
from storage.db import session_scope
from workers.ingest import ingest_file
from workers.pipeline import run_pipeline
from workers.settings import Settings
from workers.stages import STAGES, Stage, StageContext, stage_named

RAN: Counter[str] = Counter()
VERSIONS = {"upstream": "1"}


def _recording(ctx: StageContext) -> dict:
    RAN[ctx.stage] += 1
    ctx.persist(lambda _s: None, {"ran": RAN[ctx.stage]})
    return {}


TEST_STAGES = [
    Stage("upstream", _recording, after=("probe",), version=lambda _s: VERSIONS["upstream"]),
    Stage("downstream", _recording, after=("upstream",)),
    Stage("fusion", _recording, after=("downstream",), uses_taxonomy=True),
    Stage("sibling", _recording, after=("probe",)),
]


@pytest.fixture
def pipeline(tmp_path: Path, db_url: str) -> Iterator[Settings]:
    saved = STAGES[:]
    STAGES[:] = [stage_named("probe"), *TEST_STAGES]
    RAN.clear()
    VERSIONS["upstream"] = "1"
    yield Settings(data_dir=tmp_path / "var", database_url=db_url)
    STAGES[:] = saved


def _clip(tmp_path: Path) -> Path:
    clip = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=10:duration=1",
         "-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )  # fmt: skip
    return clip


def _rerun(settings: Settings, title_id: int) -> Counter[str]:
    before = RAN.copy()
    with session_scope(settings.effective_database_url) as s:
        run_id = repo.create_run(s, repo.get_title(s, title_id)).id
    assert run_pipeline(settings, run_id) == "succeeded"
    with session_scope(settings.effective_database_url) as s:
        taxonomy_version = repo.get_run(s, run_id).taxonomy_version
    assert taxonomy_version and taxonomy_version.startswith(taxonomy.load().version)
    return RAN - before


def test_changes_recompute_exactly_the_stages_downstream(
    pipeline: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = pipeline
    ingested = ingest_file(settings, _clip(tmp_path))
    assert run_pipeline(settings, ingested.run_id) == "succeeded"
    assert Counter(upstream=1, downstream=1, fusion=1, sibling=1) == RAN

    assert _rerun(settings, ingested.title_id) == Counter()  # same inputs: nothing recomputes

    VERSIONS["upstream"] = "2"  # an upstream model change
    assert _rerun(settings, ingested.title_id) == Counter(upstream=1, downstream=1, fusion=1)

    # A taxonomy change (an edited copy of the packaged file) touches only its reader.
    custom = tmp_path / "taxonomy.yaml"
    shutil.copy(taxonomy.default_path(), custom)
    custom.write_text(custom.read_text().replace("threshold: 0.6", "threshold: 0.55", 1))
    assert taxonomy.load(custom).fingerprint != taxonomy.load().fingerprint
    settings = settings.model_copy(update={"taxonomy": custom})
    assert _rerun(settings, ingested.title_id) == Counter(fusion=1)


def test_a_broken_taxonomy_refuses_the_run_and_names_the_error(
    pipeline: Settings, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        taxonomy.default_path().read_text().replace("threshold: 0.6", "threshold: 1.5", 1)
    )
    settings = pipeline.model_copy(update={"taxonomy": broken})
    ingested = ingest_file(settings, _clip(tmp_path))
    assert run_pipeline(settings, ingested.run_id) == "failed"
    with session_scope(settings.effective_database_url) as s:
        run = repo.get_run(s, ingested.run_id)
        assert run.error_code == "taxonomy_invalid"
        assert "broken.yaml" in run.error and "threshold" in run.error
    assert sum(RAN.values()) == 0  # no stage ran
