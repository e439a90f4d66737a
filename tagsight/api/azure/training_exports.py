"""Training API: exporting an iteration's model (export_iteration, get_exports)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from tagsight.api.azure import schemas as s
from tagsight.api.azure.views import export_out
from tagsight.api.deps import ProjectId, ServicesDep, parse_id, require_training_key

router = APIRouter(dependencies=[Depends(require_training_key)])


@router.post("/projects/{projectId}/iterations/{iterationId}/export")
def export_iteration(
    request: Request,
    svc: ServicesDep,
    project_id: ProjectId,
    iterationId: str,  # noqa: N803
    platform: Annotated[str, Query()],
    flavor: str | None = None,
) -> Any:
    export = svc.exports.export(project_id, parse_id(iterationId, "iteration id"), platform, flavor)
    return s.dump(export_out(export, str(request.base_url), svc.signer))


@router.get("/projects/{projectId}/iterations/{iterationId}/export")
def get_exports(request: Request, svc: ServicesDep, project_id: ProjectId, iterationId: str) -> Any:  # noqa: N803
    exports = svc.exports.list(project_id, parse_id(iterationId, "iteration id"))
    return s.dump([export_out(e, str(request.base_url), svc.signer) for e in exports])
