"""The run page: stage statuses, timings, cost, warnings and errors, and retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import RedirectResponse, Response

from storage import repository as repo
from web.admin.common import Editor, Viewer, db, render
from web.services import review_actions, run_view
from web.services.review_actions import ActionRefused

router = APIRouter(prefix="/runs")
RunId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/{run_id}")
def run_page(request: Request, principal: Viewer, run_id: RunId) -> Response:
    with db(request) as session:
        run = repo.get_run(session, run_id)
        if run is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such run")
        return render(request, "run.html", run_view.build(run))


@router.post("/{run_id}/retry")
def retry(request: Request, principal: Editor, run_id: RunId) -> Response:
    try:
        new_run = review_actions.retry_run(request.app.state.settings, run_id, principal)
    except ActionRefused as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    return RedirectResponse(f"/admin/runs/{new_run}", status_code=status.HTTP_303_SEE_OTHER)
