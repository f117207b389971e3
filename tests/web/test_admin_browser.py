"""The review loop in a real browser (headless Debian chromium) on a title with real analysis
results: a generated clip (three hard-cut scenes, an espeak-ng narration with one mild swear
word) enriched by the embedded pipeline, then reviewed through the page; and a re-run of
selected stages from the title page after a taxonomy edit, which keeps the editor's decisions
and shows where the new run disagrees."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

import taxonomy
from storage import migrate, queue, review, users
from storage import repository as repo
from storage.db import session_scope
from storage.models import RunStatus
from tests.analyzers.speech_media import espeak, ffmpeg
from tests.web.browser import artifacts_dir, chromium_page, live_server, sign_in
from web.admin.common import hms
from web.auth import hash_password
from workers.ingest import ingest_file
from workers.pipeline import run_pipeline
from workers.settings import Settings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all(shutil.which(c) for c in ("chromium", "ffmpeg", "espeak-ng")),
        reason="needs chromium, ffmpeg and espeak-ng",
    ),
]

EDITOR, PASSWORD = "editor@example.com", "correct horse battery"
NARRATION = (
    "The morning is quiet and bright in the little village. "
    "It is so damn cold on the old bridge. We will build it again together tomorrow."
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 s: test pattern, a flat blue shot and a Mandelbrot zoom (hard cuts), narrated."""
    tmp = tmp_path_factory.mktemp("review-clip")
    speech = espeak(NARRATION, tmp / "narration.wav")
    out = tmp / "village.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=4",
        "-f", "lavfi", "-i", "color=c=0x2a4d8f:size=320x180:rate=25:duration=4",
        "-f", "lavfi", "-i", "mandelbrot=size=320x180:rate=25,trim=duration=4",
        "-i", str(speech),
        "-filter_complex",
        "[0:v][1:v][2:v]concat=n=3:v=1:a=0,format=yuv420p[v];[3:a]adelay=500|500,apad[a]",
        "-map", "[v]", "-map", "[a]", "-t", "12",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(out),
    )  # fmt: skip
    return out


def _enriched_title(settings: Settings, clip: Path) -> tuple[int, int]:
    """An editor account and the clip through the whole pipeline: (title id, editor id)."""
    migrate.upgrade(settings.effective_database_url)
    with session_scope(settings.effective_database_url) as s:
        editor = users.create_user(
            s, email=EDITOR, name="Edna", role="editor", password_hash=hash_password(PASSWORD)
        )
        editor_id = editor.id
    ingested = ingest_file(settings, clip)
    assert run_pipeline(settings, ingested.run_id) == "succeeded"
    return ingested.title_id, editor_id


def _player_time(page) -> float:  # type: ignore[no-untyped-def]
    return float(page.evaluate("document.getElementById('player').currentTime"))


@pytest.mark.postgres
def test_an_editor_reviews_a_title_in_the_browser(pg_url: str, tmp_path: Path, clip: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", database_url=pg_url)
    title_id, editor_id = _enriched_title(settings, clip)
    dialogs: list[str] = []
    with live_server(settings) as base, chromium_page(dialogs) as page:
        sign_in(page, base, EDITOR, PASSWORD)
        page.goto(f"{base}/admin/titles/{title_id}")

        # The analysis is on the page: a mood band per scene, the swear word marked.
        assert page.locator("#timeline rect.band.mood").count() >= 2
        assert page.locator(".scene-card").count() >= 2
        page.wait_for_selector("li.line mark.flagged")  # the lazily loaded transcript
        assert page.inner_text("mark.flagged").strip(" ,.").lower() == "damn"
        # The swear word's mark on the timeline sits at its line of the transcript.
        mark = page.locator("#timeline rect.mark", has_text="language)")
        assert "strong-language (mild" in (mark.text_content() or "")
        line_t = float(
            page.locator("li.line", has=page.locator("mark.flagged")).get_attribute("data-t")
        )
        assert line_t <= float(mark.get_attribute("data-t")) < line_t + 3

        # Approve with the keyboard: j focuses the first tag (maturity comes first), a approves.
        first = page.locator("#tags article.tag").first
        assert (first.get_attribute("data-facet"), first.get_attribute("data-label")) == (
            "maturity",
            "strong-language",
        )
        page.keyboard.press("j")
        page.keyboard.press("a")
        page.wait_for_selector('#tags article.tag.state-approved[data-label="strong-language"]')

        # Reject another proposal with its button.
        other = page.locator('#tags article.tag.state-pending:not([data-label="strong-language"])')
        assert other.count() >= 1, "the clip should yield a mood or tone proposal"
        victim = other.first
        rejected = (victim.get_attribute("data-facet"), victim.get_attribute("data-label"))
        victim.locator("button.reject").click()
        page.wait_for_selector(f'#tags article.tag.state-rejected[data-label="{rejected[1]}"]')

        # Add a label the model did not propose.
        add = page.locator("form.add-tag")
        add.locator("select[name=facet]").select_option("mood")
        add.locator("select[name=label]").select_option("tense")
        add.locator("input[name=note]").fill("the bridge is gone")
        add.locator("button[type=submit]").click()
        page.wait_for_selector('#tags article.tag.state-approved[data-label="tense"]')

        # The final rating, with a reason.
        form = page.locator("form.rating-form")
        form.locator("select[name=system]").select_option("mpaa")
        form.locator("select[name=rating]").select_option("PG-13")
        form.locator("input[name=reason]").fill("one mild oath; tense scene")
        form.locator("button[type=submit]").click()
        page.wait_for_selector('#ratings .rating.final[data-system="mpaa"]')
        assert page.inner_text('#ratings .rating[data-system="mpaa"] .value') == "PG-13"

        # The audit history on the page follows every write (HTMX reloads it).
        page.wait_for_function("() => document.querySelectorAll('#audit li').length >= 4")
        audit_text = page.inner_text("#audit")
        for action in ("tag.approve", "tag.reject", "tag.add", "rating.final"):
            assert action in audit_text

        # Clicking a transcript line seeks the player to the line's time.
        page.wait_for_function("() => document.getElementById('player').readyState >= 1")
        assert _player_time(page) == 0
        target = page.locator("li.line").nth(1)
        t = float(target.get_attribute("data-t"))
        assert t > 1
        target.locator(".text").click()
        page.wait_for_function(
            f"() => Math.abs(document.getElementById('player').currentTime - {t}) < 0.05"
        )
        assert page.inner_text("#player-time") == hms(t)
        # So does a click anywhere on the timeline: three quarters along is 9 s of 12.
        box = page.locator("#timeline").bounding_box()
        assert box is not None
        page.locator("#timeline").click(position={"x": 0.75 * box["width"], "y": 10})
        duration = float(page.locator("#timeline").get_attribute("data-duration"))
        assert abs(_player_time(page) - 0.75 * duration) < duration / 100

        page.screenshot(path=str(artifacts_dir() / "admin-title-review.png"), full_page=True)
    assert dialogs == []

    with session_scope(settings.effective_database_url) as s:
        decisions = {(d.facet, d.label): d for d in review.tag_decisions_of(s, title_id)}
        assert {k: d.action for k, d in decisions.items()} == {
            ("maturity", "strong-language"): "approve",
            rejected: "reject",
            ("mood", "tense"): "add",
        }
        assert {(d.decided_by, d.decided_by_name) for d in decisions.values()} == {
            (editor_id, EDITOR)
        }
        assert decisions[("mood", "tense")].note == "the bridge is gone"
        (rating,) = review.rating_decisions_of(s, title_id)
        assert (rating.system, rating.rating, rating.reason, rating.min_age) == (
            "mpaa", "PG-13", "one mild oath; tense scene", 13,
        )  # fmt: skip
        final = {(t.facet, t.label): t for t in review.final_tags(s, title_id)}
        assert final[("maturity", "strong-language")].review_state == "approved"
        assert final[("mood", "tense")].source == "editor"
        assert rejected not in final
        audit = list(reversed(queue.audit_of(s, title_id)))
        assert [e.action for e in audit] == ["tag.approve", "tag.reject", "tag.add", "rating.final"]
        assert {(e.actor, e.actor_id) for e in audit} == {(EDITOR, editor_id)}
        assert audit[0].before is None and audit[0].after["action"] == "approve"
        assert audit[3].after["rating"] == "PG-13"


def _wait_finished(settings: Settings, run_id: int, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(settings.effective_database_url) as s:
            status = repo.get_run(s, run_id).status
        if status in RunStatus.FINISHED:
            return status
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} still {status} after {timeout} s")


def test_rerun_from_the_title_page_keeps_decisions_and_shows_the_disagreement(
    tmp_path: Path, clip: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "var")  # the embedded default: SQLite, in-process
    title_id, editor_id = _enriched_title(settings, clip)
    editor = review.Actor(EDITOR, editor_id)
    db = settings.effective_database_url
    with session_scope(db) as s:
        (tag,) = [p for p in review.proposals_of(s, title_id) if p.label == "strong-language"]
        assert tag.severity == "mild"
        review.record_decision(
            s, title_id, facet="maturity", label="strong-language", action="approve", actor=editor
        )
        mpaa = next(r for r in review.suggestions_of(s, title_id) if r.system == "mpaa")
        assert mpaa.rating == "PG"
        review.record_final_rating(
            s, title_id, system="mpaa", rating="PG", reason="agreed", actor=editor, min_age=8
        )
        first_run = repo.latest_run(s, title_id).id
    # The taxonomy is edited: "damn" now counts as strong language (rated R by the MPAA).
    edited = tmp_path / "taxonomy.yaml"
    text = taxonomy.default_path().read_text()
    assert "mild: [damn, " in text and "strong: [shit, " in text
    edited.write_text(text.replace("mild: [damn, ", "mild: [").replace(
        "strong: [shit, ", "strong: [damn, shit, "
    ))  # fmt: skip

    with (
        live_server(settings.model_copy(update={"taxonomy": edited})) as base,
        chromium_page([]) as page,
    ):
        sign_in(page, base, EDITOR, PASSWORD)
        page.goto(f"{base}/admin/titles/{title_id}")
        assert page.locator("section.disagreements").count() == 0
        page.check('form.rerun input[name=stages][value="tags"]')
        page.click("form.rerun button[type=submit]")
        page.wait_for_url(re.compile(r".*/admin/runs/\d+$"))
        new_run = int(page.url.rsplit("/", 1)[1])
        assert new_run != first_run
        assert _wait_finished(settings, new_run) == "succeeded"

        page.goto(f"{base}/admin/titles/{title_id}")
        shown = page.inner_text("section.disagreements")
        assert "strong-language: model now suggests strong-language: strong" in shown
        assert "mpaa: model now suggests R: strong language strong at 0:0" in shown
        tag_box = page.locator('#tags article.tag[data-label="strong-language"]')
        assert "state-approved" in tag_box.get_attribute("class")
        assert tag_box.locator(".sev").inner_text() == "mild"  # the editor's, not the new one
        assert page.inner_text('#ratings .rating[data-system="mpaa"] .value') == "PG"
        page.screenshot(path=str(artifacts_dir() / "admin-title-disagreement.png"), full_page=True)

    with session_scope(db) as s:
        run = repo.get_run(s, new_run)
        assert run.attempt == 2
        assert run.stages["shots"].get("cached") and not run.stages["tags"].get("cached")
        assert {p.run_id for p in review.proposals_of(s, title_id)} == {new_run}
        (tag,) = [p for p in review.proposals_of(s, title_id) if p.label == "strong-language"]
        assert tag.severity == "strong"
        (decision,) = review.tag_decisions_of(s, title_id)
        assert (decision.action, decision.severity, decision.decided_by_name) == (
            "approve", "mild", EDITOR,
        )  # fmt: skip
        (rating,) = review.rating_decisions_of(s, title_id)
        assert rating.rating == "PG"
        entry = queue.audit_of(s, title_id)[0]
        assert (entry.action, entry.actor, entry.entity_id) == ("title.rerun", EDITOR, new_run)
        assert entry.before == {"run_id": first_run}
        assert "tags" in entry.after["stages"] and "shots" not in entry.after["stages"]
