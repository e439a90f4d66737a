"""Training API: images and their labels (tags, regions, metadata)."""

from __future__ import annotations

import base64
import binascii
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from tagsight.api.azure import schemas as s
from tagsight.api.azure.views import ImageLinks, image_out
from tagsight.api.deps import (
    IdList,
    ProjectId,
    Services,
    ServicesDep,
    parse_id,
    parse_id_list,
    require_training_key,
)
from tagsight.api.uploads import read_image_parts
from tagsight.errors import BadRequest, ErrorCode
from tagsight.services.labels import RegionBox
from tagsight.services.uploads import UploadEntry, UploadResult
from tagsight.services.url_fetch import FetchError

router = APIRouter(dependencies=[Depends(require_training_key)])

Take = Annotated[int, Query(ge=0, le=256)]
Skip = Annotated[int, Query(ge=0)]
_FILTER_TERM = re.compile(r"^\s*metadata/([^\s]+)\s+eq\s+'((?:[^']|'')*)'\s*$")


def _links(request: Request, svc: Services) -> ImageLinks:
    return ImageLinks(str(request.base_url), svc.signer)


def _metadata_filter(expression: str | None) -> list[tuple[str, str]]:
    """The OData subset Tagsight understands: ``metadata/key eq 'value'`` joined by ``and``."""
    if not expression:
        return []
    terms = []
    for term in re.split(r"\s+and\s+", expression.strip()):
        match = _FILTER_TERM.match(term)
        if match is None:
            raise BadRequest(
                ErrorCode.BadRequestInvalid,
                f"Unsupported $filter term '{term}'; use metadata/<key> eq '<value>' joined by 'and'.",
            )
        terms.append((match.group(1), match.group(2).replace("''", "'")))
    return terms


def _regions(regions: list[s.RegionIn] | None) -> list[RegionBox]:
    return [RegionBox(parse_id(r.tag_id, "tag id"), r.left, r.top, r.width, r.height) for r in regions or ()]


def _summary(results: list[UploadResult], links: ImageLinks) -> JSONResponse:
    body = s.ImageCreateSummary(
        is_batch_successful=all(r.ok for r in results),
        images=[
            s.ImageCreateResult(
                source_url=r.source, status=r.status, image=image_out(r.image, links) if r.image else None
            )
            for r in results
        ],
    )
    return JSONResponse(s.dump(body), status_code=200 if body.is_batch_successful else 207)


# --- listing ---------------------------------------------------------------------------------


@router.get("/projects/{projectId}/images")
def get_images(
    request: Request,
    svc: ServicesDep,
    project_id: ProjectId,
    iterationId: str | None = None,  # noqa: N803
    tagIds: IdList = None,  # noqa: N803
    taggingStatus: str | None = None,  # noqa: N803
    filter: Annotated[str | None, Query(alias="$filter")] = None,
    orderBy: str | None = None,  # noqa: N803
    take: Take = 50,
    skip: Skip = 0,
) -> Any:
    images = svc.images.list(
        project_id,
        tagging=taggingStatus or "All",
        tag_ids=parse_id_list(tagIds, "tag id", max_items=20),
        iteration_id=parse_id(iterationId, "iteration id") if iterationId else None,
        metadata=_metadata_filter(filter),
        order_by=orderBy,
        take=take,
        skip=skip,
    )
    links = _links(request, svc)
    return s.dump([image_out(i, links) for i in images])


@router.get("/projects/{projectId}/images/count")
def get_image_count(
    svc: ServicesDep,
    project_id: ProjectId,
    iterationId: str | None = None,  # noqa: N803
    taggingStatus: str | None = None,  # noqa: N803
    filter: Annotated[str | None, Query(alias="$filter")] = None,
    tagIds: IdList = None,  # noqa: N803
) -> int:
    return svc.images.count(
        project_id,
        tagging=taggingStatus or "All",
        tag_ids=parse_id_list(tagIds, "tag id", max_items=20),
        iteration_id=parse_id(iterationId, "iteration id") if iterationId else None,
        metadata=_metadata_filter(filter),
    )


def _list_by_status(
    request: Request, svc: Services, project_id: str, tagging: str, **kwargs: Any
) -> list[dict[str, Any]]:
    links = _links(request, svc)
    return s.dump([image_out(i, links) for i in svc.images.list(project_id, tagging=tagging, **kwargs)])  # type: ignore[no-any-return]


@router.get("/projects/{projectId}/images/tagged")
def get_tagged_images(
    request: Request,
    svc: ServicesDep,
    project_id: ProjectId,
    iterationId: str | None = None,  # noqa: N803
    tagIds: IdList = None,  # noqa: N803
    orderBy: str | None = None,  # noqa: N803
    take: Take = 50,
    skip: Skip = 0,
) -> Any:
    return _list_by_status(
        request,
        svc,
        project_id,
        "Tagged",
        tag_ids=parse_id_list(tagIds, "tag id", max_items=20),
        iteration_id=parse_id(iterationId, "iteration id") if iterationId else None,
        order_by=orderBy,
        take=take,
        skip=skip,
    )


@router.get("/projects/{projectId}/images/tagged/count")
def get_tagged_image_count(
    svc: ServicesDep,
    project_id: ProjectId,
    iterationId: str | None = None,  # noqa: N803
    tagIds: IdList = None,  # noqa: N803
) -> int:
    return svc.images.count(
        project_id,
        tagging="Tagged",
        tag_ids=parse_id_list(tagIds, "tag id", max_items=20),
        iteration_id=parse_id(iterationId, "iteration id") if iterationId else None,
    )


@router.get("/projects/{projectId}/images/untagged")
def get_untagged_images(
    request: Request,
    svc: ServicesDep,
    project_id: ProjectId,
    iterationId: str | None = None,  # noqa: N803
    orderBy: str | None = None,  # noqa: N803
    take: Take = 50,
    skip: Skip = 0,
) -> Any:
    return _list_by_status(
        request,
        svc,
        project_id,
        "Untagged",
        iteration_id=parse_id(iterationId, "iteration id") if iterationId else None,
        order_by=orderBy,
        take=take,
        skip=skip,
    )


@router.get("/projects/{projectId}/images/untagged/count")
def get_untagged_image_count(
    svc: ServicesDep,
    project_id: ProjectId,
    iterationId: str | None = None,  # noqa: N803
) -> int:
    iteration = parse_id(iterationId, "iteration id") if iterationId else None
    return svc.images.count(project_id, tagging="Untagged", iteration_id=iteration)


@router.get("/projects/{projectId}/images/id")
def get_images_by_ids(
    request: Request,
    svc: ServicesDep,
    project_id: ProjectId,
    imageIds: IdList = None,  # noqa: N803
    iterationId: str | None = None,  # noqa: N803
) -> Any:
    ids = parse_id_list(imageIds, "image id", max_items=256)
    iteration = parse_id(iterationId, "iteration id") if iterationId else None
    links = _links(request, svc)
    return s.dump([image_out(i, links) for i in svc.images.by_ids(project_id, ids, iteration)])


# --- adding images -----------------------------------------------------------------------------


@router.post("/projects/{projectId}/images")
async def create_images_from_data(
    request: Request,
    svc: ServicesDep,
    project_id: ProjectId,
    tagIds: IdList = None,  # noqa: N803
) -> JSONResponse:
    limits = svc.settings.limits
    tag_ids = parse_id_list(tagIds, "tag id")
    parts = await read_image_parts(request, max_bytes=limits.images_per_batch * (limits.image_bytes + 4096))
    entries = [UploadEntry(source=f'"{p.filename}"' if p.filename else "", data=bytes(p.data)) for p in parts]
    results = await run_in_threadpool(svc.uploads.create_images, project_id, entries, batch_tag_ids=tag_ids)
    return _summary(results, _links(request, svc))


def _decode_contents(entry: s.ImageFileCreateEntry) -> tuple[bytes | None, tuple[str, str] | None]:
    if not entry.contents:
        return None, ("ErrorImageFormat", "The entry has no contents.")
    try:
        return base64.b64decode(entry.contents, validate=True), None
    except (binascii.Error, ValueError):
        return None, ("ErrorImageFormat", "The entry's contents are not valid base64.")


@router.post("/projects/{projectId}/images/files")
def create_images_from_files(
    request: Request, svc: ServicesDep, project_id: ProjectId, batch: s.ImageFileCreateBatch
) -> JSONResponse:
    entries = []
    for n, item in enumerate(batch.images):
        data, error = _decode_contents(item)
        entries.append(
            UploadEntry(
                source=f'"{item.name}"' if item.name else f'"image {n}"',
                data=data,
                error=error,
                tag_ids=[parse_id(t, "tag id") for t in item.tag_ids or ()],
                regions=_regions(item.regions),
            )
        )
    results = svc.uploads.create_images(
        project_id,
        entries,
        batch_tag_ids=[parse_id(t, "tag id") for t in batch.tag_ids or ()],
        metadata=batch.metadata,
    )
    return _summary(results, _links(request, svc))


def _fetch(svc: Services, item: s.ImageUrlCreateEntry) -> UploadEntry:
    entry = UploadEntry(
        source=item.url,
        data=None,
        tag_ids=[parse_id(t, "tag id") for t in item.tag_ids or ()],
        regions=_regions(item.regions),
    )
    try:
        entry.data = svc.fetcher.fetch(item.url)
    except FetchError as exc:
        entry.error = ("ErrorSource", exc.message)
    return entry


@router.post("/projects/{projectId}/images/urls")
def create_images_from_urls(
    request: Request, svc: ServicesDep, project_id: ProjectId, batch: s.ImageUrlCreateBatch
) -> JSONResponse:
    if len(batch.images) > svc.settings.limits.images_per_batch:
        # Checked before fetching anything, not only by the upload service.
        raise BadRequest(ErrorCode.BadRequestExceededBatchSize, "A batch holds at most 64 images.")
    svc.projects.get(project_id)
    with ThreadPoolExecutor(max_workers=8) as pool:
        entries = list(pool.map(lambda item: _fetch(svc, item), batch.images))
    results = svc.uploads.create_images(
        project_id,
        entries,
        batch_tag_ids=[parse_id(t, "tag id") for t in batch.tag_ids or ()],
        metadata=batch.metadata,
    )
    return _summary(results, _links(request, svc))


@router.post("/projects/{projectId}/images/predictions")
def create_images_from_predictions(
    request: Request, svc: ServicesDep, project_id: ProjectId, batch: s.ImageIdCreateBatch
) -> JSONResponse:
    """Stored predictions become training images, without uploading the bytes again."""
    ids = [parse_id(item.id, "prediction id") for item in batch.images]
    stored = svc.stored_predictions.image_bytes(project_id, ids)
    entries = [
        UploadEntry(
            source=prediction_id,
            data=stored.get(prediction_id),
            error=None if prediction_id in stored else ("ErrorSource", "No stored prediction with this id."),
            tag_ids=[parse_id(t, "tag id") for t in item.tag_ids or ()],
            regions=_regions(item.regions),
        )
        for prediction_id, item in zip(ids, batch.images, strict=True)
    ]
    results = svc.uploads.create_images(
        project_id,
        entries,
        batch_tag_ids=[parse_id(t, "tag id") for t in batch.tag_ids or ()],
        metadata=batch.metadata,
    )
    return _summary(results, _links(request, svc))


@router.delete("/projects/{projectId}/images", status_code=204)
def delete_images(
    svc: ServicesDep,
    project_id: ProjectId,
    imageIds: IdList = None,  # noqa: N803
    allImages: bool = False,  # noqa: N803
    allIterations: bool = False,  # noqa: N803
) -> Response:
    ids = parse_id_list(imageIds, "image id", max_items=256)
    svc.images.delete(project_id, image_ids=ids, all_images=allImages)
    return Response(status_code=204)


# --- labels --------------------------------------------------------------------------------------


@router.post("/projects/{projectId}/images/tags")
def create_image_tags(svc: ServicesDep, project_id: ProjectId, batch: s.ImageTagCreateBatch) -> Any:
    links = [(parse_id(t.image_id, "image id"), parse_id(t.tag_id, "tag id")) for t in batch.tags]
    summary = svc.labels.tag_images(project_id, links)

    def entries(pairs: list[tuple[str, str]]) -> list[s.ImageTagCreateEntry]:
        return [s.ImageTagCreateEntry(image_id=i, tag_id=t) for i, t in pairs]

    return s.dump(
        s.ImageTagCreateSummary(
            created=entries(summary.created),
            duplicated=entries(summary.duplicated),
            exceeded=entries(summary.exceeded),
        )
    )


@router.delete("/projects/{projectId}/images/tags", status_code=204)
def delete_image_tags(
    svc: ServicesDep,
    project_id: ProjectId,
    imageIds: IdList = None,
    tagIds: IdList = None,  # noqa: N803
) -> Response:
    image_ids = parse_id_list(imageIds, "image id", max_items=64)
    tag_ids = parse_id_list(tagIds, "tag id", max_items=20)
    if not image_ids or not tag_ids:
        raise BadRequest(ErrorCode.BadRequestRequiredParamIsNull, "imageIds and tagIds are required.")
    svc.labels.untag_images(project_id, image_ids, tag_ids)
    return Response(status_code=204)


@router.post("/projects/{projectId}/images/regions")
def create_image_regions(
    svc: ServicesDep, project_id: ProjectId, batch: s.ImageRegionCreateBatch
) -> JSONResponse:
    entries = [
        (
            parse_id(r.image_id, "image id"),
            RegionBox(parse_id(r.tag_id, "tag id"), r.left, r.top, r.width, r.height),
        )
        for r in batch.regions
    ]
    summary = svc.labels.add_regions(project_id, entries)

    def entry(image_id: str, box: RegionBox) -> s.ImageRegionCreateEntry:
        return s.ImageRegionCreateEntry(image_id=image_id, tag_id=box.tag_id, **box.box())

    body = s.ImageRegionCreateSummary(
        created=[
            s.ImageRegionCreateResult(
                image_id=r.image_id,
                region_id=r.id,
                tag_name=r.tag.name,
                created=r.created,
                tag_id=r.tag_id,
                left=r.left,
                top=r.top,
                width=r.width,
                height=r.height,
            )
            for r in summary.created
        ],
        duplicated=[entry(i, b) for i, b in summary.duplicated],
        exceeded=[entry(i, b) for i, b in summary.exceeded],
    )
    status = 200 if not body.duplicated and not body.exceeded else 207
    return JSONResponse(s.dump(body), status_code=status)


@router.delete("/projects/{projectId}/images/regions", status_code=204)
def delete_image_regions(svc: ServicesDep, project_id: ProjectId, regionIds: IdList = None) -> Response:  # noqa: N803
    ids = parse_id_list(regionIds, "region id", max_items=64)
    if not ids:
        raise BadRequest(ErrorCode.BadRequestRequiredParamIsNull, "regionIds is required.")
    svc.labels.delete_regions(project_id, ids)
    return Response(status_code=204)


@router.post("/projects/{projectId}/images/metadata")
def update_image_metadata(
    svc: ServicesDep,
    project_id: ProjectId,
    metadata: Annotated[dict[str, str], Body()],
    imageIds: IdList = None,  # noqa: N803
) -> JSONResponse:
    ids = parse_id_list(imageIds, "image id", max_items=256)
    if not ids:
        raise BadRequest(ErrorCode.BadRequestRequiredParamIsNull, "imageIds is required.")
    results = svc.labels.update_metadata(project_id, ids, metadata)
    body = s.ImageMetadataUpdateSummary(
        is_batch_successful=all(status == "OK" for _, status, _ in results),
        images=[s.ImageMetadataUpdateEntry(image_id=i, status=st, metadata=m) for i, st, m in results],
    )
    return JSONResponse(s.dump(body), status_code=200 if body.is_batch_successful else 207)


@router.post("/projects/{projectId}/images/{imageId}/regionproposals")
def get_image_region_proposals(svc: ServicesDep, project_id: ProjectId, imageId: str) -> Any:  # noqa: N803
    image_id = parse_id(imageId, "image id")
    proposals = svc.proposals.propose(project_id, image_id)
    body = s.ImageRegionProposal(
        project_id=project_id,
        image_id=image_id,
        proposals=[
            s.RegionProposal(
                confidence=p.confidence,
                bounding_box=s.BoundingBox(left=p.box[0], top=p.box[1], width=p.box[2], height=p.box[3]),
            )
            for p in proposals
        ],
    )
    return s.dump(body)
