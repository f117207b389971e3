"""The timeline's shapes, built in Python: one per band, speech bin, mark and scene, moments
told apart from spans, and every text escaped (labels, quotes and severities can hold HTML)."""

from __future__ import annotations

import re

from storage.queue import SceneSpan
from web.admin.timeline import timeline_shapes
from web.services.title_view import Band, Mark, SceneCard, TitleView

PAYLOAD = '<img src=x onerror="alert(1)">'


def _view(**fields: object) -> TitleView:
    base: dict[str, object] = {
        "title": None, "duration_s": 600.0, "runs": [], "tags": {}, "ratings": [],
        "disagreements": [], "mood_bands": [], "tone_bands": [], "marks": [], "density": [],
        "scenes": [], "arc_labels": {}, "descriptors": {}, "absent": {}, "signal_versions": {},
        "artwork": [], "sections": [], "shot_count": 0, "audit": [], "next_title_id": None,
    }  # fmt: skip
    return TitleView(**{**base, **fields})  # type: ignore[arg-type]


def test_shapes_are_drawn_and_every_text_is_escaped() -> None:
    view = _view(
        mood_bands=[Band(0.0, 30.0, PAYLOAD, 0.5, "hsl(1, 62%, 52%)")],
        tone_bands=[Band(0.0, 30.0, "tense", 1.0, "hsl(2, 62%, 52%)")],
        density=[(0.0, 3.0, 0.5)],
        marks=[
            Mark(61.0, 61.4, PAYLOAD, PAYLOAD, "language", PAYLOAD),  # a flagged word
            Mark(100.0, 400.0, "violence", None, "audio", None),  # evidence over a span
        ],
        scenes=[SceneCard(SceneSpan(i, i * 30.0, i * 30.0 + 30.0, None), None, []) for i in (0, 1)],
    )
    svg = str(timeline_shapes(view))
    assert "<img" not in svg and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in svg
    assert re.findall(r'<rect class="([^"]+)"', svg) == [
        "band mood", "band tone", "speech",
        "mark span sev-none",
        "mark moment sev-&lt;img src=x onerror=&#34;alert(1)&#34;&gt;",
        "scene odd", "scene even",
    ]  # fmt: skip
    assert 'fill-opacity="0.68"' in svg and 'y="55.0" width="3.0" height="11.0"' in svg
    # A moment is at least 1/200 of the title wide, so a single word stays visible.
    assert 'x="61.0" y="68" width="3.0"' in svg
    assert "<title>scene 1 at 00:00:30</title>" in svg
