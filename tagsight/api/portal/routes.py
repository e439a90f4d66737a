"""Serving the portal: the page at ``/``, its files under ``/portal/``, one summary route.

The portal is plain ES modules and CSS in ``static/`` (no build step, nothing fetched from the
internet). It talks to the Azure-compatible Training API like any other client; the only
addition is ``GET /portal/api/projects/summaries``, which gives the projects page its counts and
thumbnails in one request instead of several per project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from tagsight.api.deps import ServicesDep, require_training_key
from tagsight.services.links import image_path

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/portal"
# Revalidate on every load (cheap with the ETag) so that an upgraded server never runs old modules.
_NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


class ProjectSummary(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    project_id: str
    image_count: int
    untagged_count: int
    tag_count: int
    iteration_count: int
    thumbnail_uri: str | None


@router.get("/")
def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers=_NO_CACHE)


@router.get("/portal/api/projects/summaries", dependencies=[Depends(require_training_key)])
def project_summaries(svc: ServicesDep) -> Any:
    """Counts and the newest image's thumbnail for every project (Training-Key)."""
    summaries = []
    for project in svc.projects.list():
        newest = svc.images.list(project.id, take=1)
        thumbnail = svc.signer.sign(image_path("thumbnail", newest[0].content_hash)) if newest else None
        summaries.append(
            ProjectSummary(
                project_id=project.id,
                image_count=svc.images.count(project.id),
                untagged_count=svc.images.count(project.id, tagging="Untagged"),
                tag_count=len(svc.tags.list(project.id)),
                iteration_count=len(svc.iterations.list(project.id)),
                thumbnail_uri=thumbnail,
            ).model_dump(by_alias=True)
        )
    return summaries


class _PortalFiles(StaticFiles):
    """Static files with ``Cache-Control: no-cache`` added."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"cache-control", b"no-cache")]
            await send(message)

        await super().__call__(scope, receive, send_with_header)


def static_files() -> StaticFiles:
    """The app mounts this at ``STATIC_PREFIX``."""
    return _PortalFiles(directory=STATIC_DIR)
