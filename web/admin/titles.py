"""The title page and its partial updates: tags, ratings, lock, re-run, media, transcript."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response

from storage import queue
from storage import repository as repo
from storage.documents import title_document
from web.admin.common import Editor, Viewer, db, render
from web.admin.forms import SEVERITIES, TAG_ACTIONS, Short, Text
from web.services import media, review_actions, title_view
from web.services.review_actions import ActionRefused, TagChange

router = APIRouter(prefix="/titles")
TitleId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _title_or_404(session, title_id: int):  # type: ignore[no-untyped-def]
    title = repo.get_title(session, title_id)
    if title is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such title")
    return title


@router.get("/{title_id}")
def title_page(request: Request, principal: Viewer, title_id: TitleId) -> Response:
    with db(request) as session:
        view = title_view.build(session, _title_or_404(session, title_id))
        return render(
            request,
            "title.html",
            {
                "v": view,
                "labels": review_actions.label_choices(),
                "systems": review_actions.rating_choices(),
                "stages": review_actions.stage_names(),
                "severities": SEVERITIES[1:],
            },
        )


@router.get("/{title_id}/document")
def document(request: Request, principal: Viewer, title_id: TitleId) -> Response:
    """The whole title document (every label the analysis produced), as JSON."""
    with db(request) as session:
        return JSONResponse(title_document(session, _title_or_404(session, title_id)))


@router.get("/{title_id}/transcript")
def transcript(
    request: Request,
    principal: Viewer,
    title_id: TitleId,
    start: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    with db(request) as session:
        _title_or_404(session, title_id)
        section = title_view.transcript_section(session, title_id, start)
        return render(request, "_transcript.html", section)


@router.get("/{title_id}/video")
def video(request: Request, principal: Viewer, title_id: TitleId) -> Response:
    with db(request) as session:
        title = _title_or_404(session, title_id)
    return media.source_video(request.app.state.settings, title)


@router.get("/{title_id}/keyframes/{shot}")
def keyframe(
    request: Request,
    principal: Viewer,
    title_id: TitleId,
    shot: Annotated[int, Path(ge=0, le=10_000_000)],
    full: bool = False,
) -> Response:
    with db(request) as session:
        frame = queue.keyframe_of(session, title_id, shot)
    if frame is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such keyframe")
    return media.keyframe_image(request.app.state.settings, frame, thumb=not full)


@router.get("/{title_id}/progress")
def progress(request: Request, principal: Viewer, title_id: TitleId) -> Response:
    with db(request) as session:
        title = _title_or_404(session, title_id)
        run = title_view.latest_run(session, title_id)
        return render(request, "_progress.html", {"title": title, "run": run})


@router.get("/{title_id}/audit")
def audit(request: Request, principal: Viewer, title_id: TitleId) -> Response:
    with db(request) as session:
        _title_or_404(session, title_id)
        audit = queue.audit_of(session, title_id)
        return render(request, "_audit.html", {"audit": audit, "title_id": title_id})


def _tags_fragment(request: Request, title_id: int, error: str | None) -> Response:
    with db(request) as session:
        view = title_view.build(session, _title_or_404(session, title_id))
        response = render(
            request,
            "_tags.html",
            {"v": view, "labels": review_actions.label_choices(), "severities": SEVERITIES[1:],
             "error": error},
            status_code=200 if error is None else 422,
        )  # fmt: skip
    response.headers["HX-Trigger"] = "reviewed"
    return response


@router.post("/{title_id}/tags")
def decide_tag(
    request: Request,
    principal: Editor,
    title_id: TitleId,
    facet: Short,
    label: Short,
    action: Short,
    new_label: Annotated[str, Form(max_length=128)] = "",
    severity: Annotated[str, Form(max_length=16)] = "",
    note: Text = "",
) -> Response:
    if action not in TAG_ACTIONS or severity not in SEVERITIES:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "unknown action or severity")
    change = TagChange(facet, label, action, new_label, severity, note)
    try:
        with db(request) as session:
            _title_or_404(session, title_id)
            review_actions.decide_tag(session, title_id, change, principal)
    except ActionRefused as err:
        return _tags_fragment(request, title_id, str(err))
    return _tags_fragment(request, title_id, None)


@router.post("/{title_id}/rating")
def final_rating(
    request: Request,
    principal: Editor,
    title_id: TitleId,
    system: Short,
    rating: Short,
    reason: Text,
) -> Response:
    error = None
    try:
        with db(request) as session:
            _title_or_404(session, title_id)
            review_actions.set_final_rating(session, title_id, system, rating, reason, principal)
    except ActionRefused as err:
        error = str(err)
    with db(request) as session:
        view = title_view.build(session, _title_or_404(session, title_id))
        response = render(
            request,
            "_ratings.html",
            {"v": view, "systems": review_actions.rating_choices(), "error": error},
            status_code=200 if error is None else 422,
        )
    response.headers["HX-Trigger"] = "reviewed"
    return response


@router.post("/{title_id}/lock")
def lock(
    request: Request,
    principal: Editor,
    title_id: TitleId,
    locked: Annotated[str, Form(pattern="^(0|1)$")],
) -> Response:
    with db(request) as session:
        _title_or_404(session, title_id)
        review_actions.set_lock(session, title_id, locked == "1", principal)
    return RedirectResponse(f"/admin/titles/{title_id}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/{title_id}/rerun")
async def rerun(request: Request, principal: Editor, title_id: TitleId) -> Response:
    form = await request.form()
    stages = [str(s)[:64] for s in form.getlist("stages")][:32]
    try:
        run_id = review_actions.rerun_stages(
            request.app.state.settings, title_id, stages, principal
        )
    except ActionRefused as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    except LookupError as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such title") from err
    return RedirectResponse(f"/admin/runs/{run_id}", status_code=status.HTTP_303_SEE_OTHER)
