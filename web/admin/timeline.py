"""The shapes of the title page's timeline (mood and tone bands, speech density, maturity
marks, scenes) as SVG markup, one f-string per shape with every text escaped.

A feature film draws about 1,100 shapes, each with seven or eight attributes; as Jinja
expressions (a lookup and an escape each) they took about a third of the page's render
time. The frame around them (rows, grid, axis, legend) stays in ``title.html``."""

from __future__ import annotations

from markupsafe import Markup, escape

from web.services.title_view import Band, Mark, TitleView, hms


def timeline_shapes(v: TitleView) -> Markup:
    d = v.duration_s
    out = _bands("mood", 0, 26, v.mood_bands) + _bands("tone", 28, 14, v.tone_bands)
    out += [
        f'<rect class="speech" x="{start}" y="{66 - 22 * share}" width="{width}" '
        f'height="{22 * share}"></rect>'
        for start, width, share in v.density
    ]
    # Evidence over a long span (a scene's transcript, its audio) is a thin bar; a moment
    # (a flagged word, a detection) is a full-height mark drawn on top, so it stays visible.
    out += [_span(m) for m in v.marks if not _is_moment(m, d)]
    out += [_moment(m, d) for m in v.marks if _is_moment(m, d)]
    out += [
        f'<rect class="scene {"odd" if i % 2 == 0 else "even"}" x="{c.scene.start_s}" y="96" '
        f'width="{max(c.scene.end_s - c.scene.start_s, 0.001)}" height="24" '
        f'data-t="{c.scene.start_s}"><title>scene {c.scene.idx} at {hms(c.scene.start_s)}'
        "</title></rect>"
        for i, c in enumerate(v.scenes)
    ]
    return Markup("".join(out))


def _bands(facet: str, y: int, height: int, bands: list[Band]) -> list[str]:
    return [
        f'<rect class="band {facet}" x="{b.start_s}" y="{y}" '
        f'width="{max(b.end_s - b.start_s, 0.001)}" height="{height}" fill="{escape(b.colour)}" '
        f'fill-opacity="{0.35 + 0.65 * b.score:.2f}" data-t="{b.start_s}"><title>{facet} '
        f"{escape(b.label)} {b.score:.2f} at {hms(b.start_s)}</title></rect>"
        for b in bands
    ]


def _is_moment(m: Mark, duration: float) -> bool:
    return m.signal == "language" or (m.end_s - m.t) < duration / 50


def _about(m: Mark) -> str:
    return f"{escape(m.label)} ({escape(m.severity or '')}, {escape(m.signal)})"


def _span(m: Mark) -> str:
    return (
        f'<rect class="mark span sev-{escape(m.severity or "none")}" x="{m.t}" y="86" '
        f'width="{m.end_s - m.t}" height="8" data-t="{m.t}"><title>{_about(m)} '
        f"{hms(m.t)}–{hms(m.end_s)}</title></rect>"
    )


def _moment(m: Mark, duration: float) -> str:
    quote = f": {escape(m.quote)}" if m.quote else ""
    return (
        f'<rect class="mark moment sev-{escape(m.severity or "none")}" x="{m.t}" y="68" '
        f'width="{max(m.end_s - m.t, duration / 200)}" height="26" data-t="{m.t}"><title>'
        f"{_about(m)} at {hms(m.t)}{quote}</title></rect>"
    )
