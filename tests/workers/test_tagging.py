"""The tagging pipeline end to end on generated titles, in-process, with the real signals
(NudeNet, MiniLM, the profanex lexicon, librosa/pyloudnorm) and no vision model (none can be
had offline): evidence on every tag, strong language at its timestamps raising the rating,
mood and tone ordering, the absent-vision guardrail, and decisions surviving re-analysis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import taxonomy
from analyzers.shots.synthetic import Join, Segment, build
from storage import migrate, review
from storage import repository as repo
from storage.db import session_scope
from storage.documents import title_document
from tests.analyzers.speech_media import espeak, ffmpeg
from workers.ingest import ingest_file
from workers.pipeline import run_pipeline
from workers.settings import Settings

pytestmark = pytest.mark.slow

CHILDREN = {"G", "TV-Y", "TV-Y7", "TV-G", "U"}
SWEARING = "This report is finished. What the fuck happened to the money. We start again tomorrow."
CLEAN = "This report is finished. What exactly happened to the money. We start again tomorrow."


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("tagging") / "var")
    migrate.upgrade(settings.effective_database_url)
    yield settings


def _talking_clip(tmp: Path, name: str, text: str) -> Path:
    speech = espeak(text, tmp / f"{name}.wav")
    out = tmp / f"{name}.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=9", "-i", str(speech),
        "-af", "apad", "-t", "9", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
        str(out),
    )  # fmt: skip
    return out


def _calm_clip(tmp: Path) -> Path:
    """Bright, warm, one still shot, a soft low tone: calm and light."""
    out = tmp / "calm.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "color=c=0xEBD9B4:size=160x90:rate=25:duration=16",
        "-f", "lavfi", "-i", "sine=f=220:d=16,volume=0.03",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out),
    )  # fmt: skip
    return out


def _dark_clip(tmp: Path) -> Path:
    """Dark, a cut every 0.6 s between restless sources, loud noise bursts: the opposite."""
    sources = ["mandelbrot", "cellauto=rule=30", "testsrc2", "life=mold=10", "rgbtestsrc"]
    parts: list[Segment | Join] = []
    for i in range(26):
        if parts:
            parts.append(Join())
        parts.append(Segment(sources[i % len(sources)], 15))
    video = tmp / "dark-video.mp4"
    build(video, parts, size="160x90")
    out = tmp / "dark.mp4"
    ffmpeg(
        "-i", str(video),
        "-f", "lavfi", "-i", "anoisesrc=a=0.7:c=brown:d=16,tremolo=f=6:d=0.9",
        "-vf", "eq=brightness=-0.45:contrast=1.6", "-shortest",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out),
    )  # fmt: skip
    return out


def _enrich(settings: Settings, clip: Path) -> dict:
    ingested = ingest_file(settings, clip)
    assert run_pipeline(settings, ingested.run_id) == "succeeded"
    with session_scope(settings.effective_database_url) as s:
        return title_document(s, repo.get_title(s, ingested.title_id))


@pytest.fixture(scope="module")
def docs(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("clips")
    return {
        "swearing": _enrich(settings, _talking_clip(tmp, "swearing", SWEARING)),
        "clean": _enrich(settings, _talking_clip(tmp, "clean", CLEAN)),
        "calm": _enrich(settings, _calm_clip(tmp)),
        "dark": _enrich(settings, _dark_clip(tmp)),
    }


def _rating(doc: dict, system: str) -> dict:
    return next(r for r in doc["ratings"] if r["system"] == system)


def test_every_tag_carries_evidence_with_times(docs: dict[str, dict]) -> None:
    tags = [t for doc in docs.values() for t in doc["tags"]]
    assert tags, "the generated titles produced no tags at all"
    for tag in tags:
        assert tag["evidence"], f"{tag['facet']}/{tag['label']} has no evidence"
        for item in tag["evidence"]:
            assert item["end_s"] >= item["start_s"] >= 0.0
            assert item["signal"] and 0.0 <= item["score"] <= 1.0


def test_strong_language_is_found_at_its_time_and_raises_the_rating(
    docs: dict[str, dict],
) -> None:
    swearing, clean = docs["swearing"], docs["clean"]
    language = next(
        t for t in swearing["tags"] if t["facet"] == "maturity" and t["label"] == "strong-language"
    )
    marks = [e for e in language["evidence"] if e["signal"] == "language"]
    assert marks and language["severity"] in ("strong", "severe")
    # The word's own timing, from the transcript's word timestamps.
    words = [
        w
        for seg in swearing["transcript"]["segments"]
        for w in seg["words"]
        if "fuck" in (w.get("word") or w.get("text") or "").lower()
    ]
    assert words, swearing["transcript"]["text"]
    assert abs(marks[0]["start_s"] - words[0]["start"]) <= 0.5
    assert not [t for t in clean["tags"] if t["label"] == "strong-language"]
    for system in ("mpaa", "us-tv", "bbfc"):
        strict, mild = _rating(swearing, system), _rating(clean, system)
        assert strict["min_age"] > mild["min_age"], (system, strict["rating"], mild["rating"])


def test_no_vision_model_means_no_childrens_rating_and_says_why(docs: dict[str, dict]) -> None:
    for doc in docs.values():
        assert "vision" in doc["signals"]["absent"]
        for rating in doc["ratings"]:
            assert rating["rating"] not in CHILDREN
            assert rating["needs_review"]
            assert any("not assessed" in r for r in rating["suggested"]["reasons"])


def _title_score(doc: dict, facet: str, label: str) -> float:
    arc = doc["mood_arc"]
    spans = [s["end_s"] - s["start_s"] for s in arc["scenes"]]
    values = arc[facet][label]
    pairs = [(d or 1.0, v) for d, v in zip(spans, values, strict=True) if v is not None]
    return sum(d * v for d, v in pairs) / sum(d for d, _ in pairs)


@pytest.mark.parametrize(
    ("facet", "calmer", "darker"),
    [("mood", "calm", "high-energy"), ("mood", "calm", "tense"), ("tone", "lighthearted", "dark")],
)
def test_a_calm_bright_title_scores_calmer_and_lighter(
    docs: dict[str, dict], facet: str, calmer: str, darker: str
) -> None:
    calm, dark = docs["calm"], docs["dark"]
    assert _title_score(calm, facet, calmer) > _title_score(dark, facet, calmer)
    assert _title_score(dark, facet, darker) > _title_score(calm, facet, darker)


def test_mood_arc_covers_every_scene_and_label(docs: dict[str, dict]) -> None:
    dark = docs["dark"]
    arc = dark["mood_arc"]
    assert len(arc["scenes"]) == len(dark["scenes"]) > 1
    assert all(len(v) == len(arc["scenes"]) for v in arc["mood"].values())
    assert len(arc["mood"]) >= 15 and len(arc["tone"]) >= 10


def test_a_decision_survives_reanalysis(
    settings: Settings, docs: dict[str, dict], tmp_path: Path
) -> None:
    doc = docs["swearing"]
    title_id = doc["title"]["id"]
    editor = review.Actor("editor@example.com")
    with session_scope(settings.effective_database_url) as s:
        review.record_decision(
            s, title_id, facet="maturity", label="strong-language", action="reject", actor=editor
        )
        review.record_final_rating(
            s, title_id, system="mpaa", rating="PG", reason="one word, in context", actor=editor
        )
        run_id = repo.create_run(s, repo.get_title(s, title_id)).id
    # A re-analysis after a taxonomy edit: the tagging stages recompute and rewrite proposals.
    edited = tmp_path / "taxonomy.yaml"
    edited.write_text(
        taxonomy.default_path().read_text().replace("threshold: 0.6", "threshold: 0.61", 1)
    )
    assert run_pipeline(settings.model_copy(update={"taxonomy": edited}), run_id) == "succeeded"
    with session_scope(settings.effective_database_url) as s:
        after = title_document(s, repo.get_title(s, title_id))
        assert not repo.get_run(s, run_id).stages["tags"].get("cached")
        assert {p.run_id for p in review.proposals_of(s, title_id)} == {run_id}
    tag = next(t for t in after["tags"] if t["label"] == "strong-language")
    assert tag["review_state"] == "rejected" and tag["decided_by"] == "editor@example.com"
    mpaa = _rating(after, "mpaa")
    assert (mpaa["rating"], mpaa["is_final"]) == ("PG", True)
    assert mpaa["suggested"]["rating"] != "PG" or mpaa["disagreement"] is None
