"""Prediction API: classify and detect with a published iteration (Prediction-Key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from tagsight.api.azure import schemas as s
from tagsight.api.azure.views import image_prediction_out
from tagsight.api.deps import ProjectId, Services, ServicesDep, require_prediction_key
from tagsight.api.uploads import read_image_parts
from tagsight.errors import BadRequest, ErrorCode
from tagsight.services.url_fetch import FetchError

router = APIRouter(dependencies=[Depends(require_prediction_key)])

KINDS = {"classify": "Classification", "detect": "ObjectDetection"}


async def _image_from_body(request: Request, svc: Services) -> bytes:
    parts = await read_image_parts(request, max_bytes=svc.settings.limits.prediction_image_bytes + 65536)
    if not parts:
        raise BadRequest(ErrorCode.BadRequestImageStream, "The request contains no image.")
    return bytes(parts[0].data)


def _image_from_url(svc: Services, url: str) -> bytes:
    try:
        return svc.fetcher.fetch(url)
    except FetchError as exc:
        raise BadRequest(ErrorCode.BadRequestImageUrl, exc.message) from exc


def _predict(
    svc: Services,
    kind: str,
    project_id: str,
    published_name: str,
    data: bytes,
    store: bool,
    application: str | None,
) -> Any:
    iteration = svc.predictions.published_iteration(project_id, published_name)
    result = svc.predictions.predict(
        iteration, data, store=store, application=application, expect=KINDS[kind]
    )
    return s.dump(image_prediction_out(result))


for _kind in KINDS:

    def _routes(kind: str) -> None:
        base = f"/{{projectId}}/{kind}/iterations/{{publishedName}}"

        @router.post(base + "/image", name=f"{kind}_image")
        async def image(
            request: Request,
            svc: ServicesDep,
            project_id: ProjectId,
            publishedName: str,  # noqa: N803
            application: str | None = None,
        ) -> Any:
            data = await _image_from_body(request, svc)
            return await run_in_threadpool(
                _predict, svc, kind, project_id, publishedName, data, True, application
            )

        @router.post(base + "/image/nostore", name=f"{kind}_image_nostore")
        async def image_nostore(
            request: Request,
            svc: ServicesDep,
            project_id: ProjectId,
            publishedName: str,  # noqa: N803
            application: str | None = None,
        ) -> Any:
            data = await _image_from_body(request, svc)
            return await run_in_threadpool(
                _predict, svc, kind, project_id, publishedName, data, False, application
            )

        @router.post(base + "/url", name=f"{kind}_url")
        def url(
            svc: ServicesDep,
            project_id: ProjectId,
            publishedName: str,
            body: s.ImageUrl,  # noqa: N803
            application: str | None = None,
        ) -> Any:
            data = _image_from_url(svc, body.url)
            return _predict(svc, kind, project_id, publishedName, data, True, application)

        @router.post(base + "/url/nostore", name=f"{kind}_url_nostore")
        def url_nostore(
            svc: ServicesDep,
            project_id: ProjectId,
            publishedName: str,
            body: s.ImageUrl,  # noqa: N803
            application: str | None = None,
        ) -> Any:
            data = _image_from_url(svc, body.url)
            return _predict(svc, kind, project_id, publishedName, data, False, application)

    _routes(_kind)
