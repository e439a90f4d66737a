"""Tagsight's own dataset routes (not Azure's): import a zipped dataset, export one as a zip.

- ``POST /tagsight/api/datasets/import?format=coco&projectName=Raccoons`` (or ``&projectId=...``):
  the body is the zip (``application/zip``); creates or fills the project, answers the summary.
- ``GET /tagsight/api/projects/{projectId}/dataset?format=yolo``: the project's labelled images
  as a zipped dataset.

Both take the training key like the Training API. The work is ``DatasetService``'s; this module
only moves bytes between HTTP and temporary files.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from tagsight.api.deps import ProjectId, ServicesDep, parse_id, require_training_key
from tagsight.errors import BadRequest, ErrorCode, PayloadTooLarge
from tagsight.services.datasets import ImportSummary

PREFIX = "/tagsight/api"
# The most a zipped dataset sent to the server may weigh.
MAX_UPLOAD_BYTES = 2 * 1024**3

router = APIRouter(prefix=PREFIX, tags=["datasets"], dependencies=[Depends(require_training_key)])


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class SkippedOut(_Camel):
    item: str
    reason: str


class DatasetImportOut(_Camel):
    project_id: str
    project_name: str
    project_created: bool
    images_added: int
    regions_added: int
    tags_created: list[str]
    merged: int
    skipped: list[SkippedOut]


def _summary_out(summary: ImportSummary) -> Any:
    return DatasetImportOut(
        project_id=summary.project_id,
        project_name=summary.project_name,
        project_created=summary.project_created,
        images_added=summary.images_added,
        regions_added=summary.regions_added,
        tags_created=summary.tags_created,
        merged=summary.merged,
        skipped=[SkippedOut(item=s.item, reason=s.reason) for s in summary.skipped],
    ).model_dump(by_alias=True)


@router.post("/datasets/import")
async def import_dataset(
    request: Request,
    svc: ServicesDep,
    format: Annotated[str, Query()],
    projectName: str | None = None,  # noqa: N803 - the wire name
    projectId: str | None = None,  # noqa: N803
) -> Any:
    """Import a zipped dataset into a new or existing project (Training-Key)."""
    if (projectName is None) == (projectId is None):
        raise BadRequest(
            ErrorCode.BadRequest, "Give either projectName (create or fill) or projectId (fill)."
        )
    project_id = parse_id(projectId, "project id") if projectId else None
    svc.datasets.format(format)  # an unknown format is refused before the upload is read
    with tempfile.TemporaryFile() as body:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise PayloadTooLarge(
                    ErrorCode.BadRequest, f"A dataset zip may be at most {MAX_UPLOAD_BYTES} bytes."
                )
            await run_in_threadpool(body.write, chunk)
        if size == 0:
            raise BadRequest(ErrorCode.BadRequest, "Send the dataset as a zip in the request body.")
        body.seek(0)
        summary = await run_in_threadpool(
            svc.datasets.import_archive, body, format, project_id=project_id, project_name=projectName
        )
    return _summary_out(summary)


@router.get("/projects/{projectId}/dataset")
def export_dataset(svc: ServicesDep, project_id: ProjectId, format: Annotated[str, Query()]) -> FileResponse:
    """The project's labelled images as a zipped dataset (Training-Key)."""
    project = svc.projects.get(project_id)
    folder = Path(tempfile.mkdtemp(prefix="tagsight-dataset-"))
    try:
        target = folder / "dataset.zip"
        summary = svc.datasets.export_archive(project_id, format, target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        target,
        media_type="application/zip",
        filename=f"{project.name}-{format.lower()}.zip",
        headers={"X-Tagsight-Images": str(summary.images), "X-Tagsight-Boxes": str(summary.boxes)},
        # The zip is removed once it has been sent.
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
