"""Training API: training, iterations, performance, publishing, quick tests, stored predictions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from tagsight.api.azure import schemas as s
from tagsight.api.azure.views import (
    ImageLinks,
    image_performance_out,
    image_prediction_out,
    iteration_out,
    performance_out,
    stored_prediction_out,
)
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
from tagsight.services import domains
from tagsight.services.prediction import PredictionQuery
from tagsight.services.training import TrainRequest
from tagsight.services.url_fetch import FetchError

router = APIRouter(dependencies=[Depends(require_training_key)])

Take = Annotated[int, Query(ge=0, le=256)]
Skip = Annotated[int, Query(ge=0)]


def _iteration_id(value: str) -> str:
    return parse_id(value, "iteration id")


@router.post("/projects/{projectId}/train")
def train_project(
    svc: ServicesDep,
    project_id: ProjectId,
    trainingType: str | None = None,  # noqa: N803
    reservedBudgetInHours: int = 0,  # noqa: N803
    forceTrain: bool = False,  # noqa: N803
    notificationEmailAddress: str | None = None,  # noqa: N803 - accepted; Tagsight sends no e-mail
    parameters: Annotated[s.TrainingParameters | None, Body()] = None,
) -> Any:
    selected = [parse_id(t, "tag id") for t in (parameters.selected_tags or ())] if parameters else None
    request = TrainRequest(
        training_type=trainingType or "Regular",
        reserved_budget_in_hours=reservedBudgetInHours,
        force=forceTrain,
        selected_tags=selected or None,
    )
    iteration = svc.training.train(project_id, request)
    svc.worker.wake()
    return s.dump(iteration_out(iteration))


@router.get("/projects/{projectId}/iterations")
def get_iterations(svc: ServicesDep, project_id: ProjectId) -> Any:
    return s.dump([iteration_out(i) for i in svc.iterations.list(project_id)])


@router.get("/projects/{projectId}/iterations/{iterationId}")
def get_iteration(svc: ServicesDep, project_id: ProjectId, iterationId: str) -> Any:  # noqa: N803
    return s.dump(iteration_out(svc.iterations.get(project_id, _iteration_id(iterationId))))


@router.patch("/projects/{projectId}/iterations/{iterationId}")
def update_iteration(
    svc: ServicesDep, project_id: ProjectId, iterationId: str, body: s.IterationUpdate
) -> Any:  # noqa: N803
    return s.dump(iteration_out(svc.iterations.rename(project_id, _iteration_id(iterationId), body.name)))


@router.delete("/projects/{projectId}/iterations/{iterationId}", status_code=204)
def delete_iteration(svc: ServicesDep, project_id: ProjectId, iterationId: str) -> Response:  # noqa: N803
    svc.iterations.delete(project_id, _iteration_id(iterationId))
    return Response(status_code=204)


@router.get("/projects/{projectId}/iterations/{iterationId}/performance")
def get_iteration_performance(
    svc: ServicesDep,
    project_id: ProjectId,
    iterationId: str,  # noqa: N803
    threshold: float = 0.5,
    overlapThreshold: float = 0.3,  # noqa: N803 - used by detection
) -> Any:
    perf = svc.iterations.performance(
        project_id, _iteration_id(iterationId), threshold=threshold, overlap_threshold=overlapThreshold
    )
    return s.dump(performance_out(perf))


@router.get("/projects/{projectId}/iterations/{iterationId}/performance/images")
def get_image_performances(
    request: Request,
    svc: ServicesDep,
    project_id: ProjectId,
    iterationId: str,  # noqa: N803
    tagIds: IdList = None,  # noqa: N803
    orderBy: str | None = None,  # noqa: N803
    take: Take = 50,
    skip: Skip = 0,
) -> Any:
    views = svc.iterations.image_performances(
        project_id,
        _iteration_id(iterationId),
        tag_ids=parse_id_list(tagIds, "tag id", max_items=20),
        order_by=orderBy,
        take=take,
        skip=skip,
    )
    links = ImageLinks(str(request.base_url), svc.signer)
    return s.dump([image_performance_out(v, links) for v in views])


@router.get("/projects/{projectId}/iterations/{iterationId}/performance/images/count")
def get_image_performance_count(
    svc: ServicesDep,
    project_id: ProjectId,
    iterationId: str,
    tagIds: IdList = None,  # noqa: N803
) -> int:
    tag_ids = parse_id_list(tagIds, "tag id", max_items=20)
    return svc.iterations.image_performance_count(project_id, _iteration_id(iterationId), tag_ids=tag_ids)


@router.post("/projects/{projectId}/iterations/{iterationId}/publish")
def publish_iteration(
    svc: ServicesDep,
    project_id: ProjectId,
    iterationId: str,  # noqa: N803
    publishName: Annotated[str, Query()],  # noqa: N803
    predictionId: Annotated[str, Query()],  # noqa: N803
    overwrite: bool = False,
) -> bool:
    svc.iterations.publish(
        project_id,
        _iteration_id(iterationId),
        publish_name=publishName,
        prediction_id=predictionId,
        overwrite=overwrite,
    )
    return True


@router.delete("/projects/{projectId}/iterations/{iterationId}/publish", status_code=204)
def unpublish_iteration(svc: ServicesDep, project_id: ProjectId, iterationId: str) -> Response:  # noqa: N803
    svc.iterations.unpublish(project_id, _iteration_id(iterationId))
    return Response(status_code=204)


def _fetch(svc: Services, url: str) -> bytes:
    try:
        return svc.fetcher.fetch(url)
    except FetchError as exc:
        raise BadRequest(ErrorCode.BadRequestImageUrl, exc.message) from exc


@router.post("/projects/{projectId}/quicktest/image")
async def quick_test_image(
    request: Request,
    svc: ServicesDep,
    project_id: ProjectId,
    iterationId: str | None = None,  # noqa: N803
    store: bool = True,
) -> Any:
    parts = await read_image_parts(request, max_bytes=svc.settings.limits.prediction_image_bytes + 65536)
    if not parts:
        raise BadRequest(ErrorCode.BadRequestImageStream, "The request contains no image.")
    iteration_id = _iteration_id(iterationId) if iterationId else None
    iteration = await run_in_threadpool(svc.predictions.quick_test_iteration, project_id, iteration_id)
    result = await run_in_threadpool(svc.predictions.predict, iteration, bytes(parts[0].data), store=store)
    return s.dump(image_prediction_out(result))


@router.post("/projects/{projectId}/quicktest/url")
def quick_test_image_url(
    svc: ServicesDep,
    project_id: ProjectId,
    body: s.ImageUrl,
    iterationId: str | None = None,  # noqa: N803
    store: bool = True,
) -> Any:
    iteration = svc.predictions.quick_test_iteration(
        project_id, _iteration_id(iterationId) if iterationId else None
    )
    result = svc.predictions.predict(iteration, _fetch(svc, body.url), store=store)
    return s.dump(image_prediction_out(result))


@router.post("/projects/{projectId}/predictions/query")
def query_predictions(
    request: Request, svc: ServicesDep, project_id: ProjectId, query: s.PredictionQueryToken
) -> Any:
    try:
        offset = int(query.continuation) if query.continuation else 0
    except ValueError as exc:
        raise BadRequest(
            ErrorCode.BadRequestPredictionInvalidQueryParameters, "Invalid continuation."
        ) from exc
    max_count = query.max_count or 50
    if not 1 <= max_count <= 256 or offset < 0:
        raise BadRequest(ErrorCode.BadRequestPredictionInvalidQueryParameters, "maxCount must be 1..256.")
    order = query.order_by or "Newest"
    if order not in ("Newest", "Oldest"):
        raise BadRequest(
            ErrorCode.BadRequestPredictionInvalidQueryParameters, "orderBy must be Newest or Oldest."
        )
    thresholds = tuple(
        (
            parse_id(t.id, "tag id"),
            t.min_threshold or 0.0,
            1.0 if t.max_threshold is None else t.max_threshold,
        )
        for t in query.tags or ()
        if t.id
    )
    page, following = svc.stored_predictions.query(
        project_id,
        PredictionQuery(
            iteration_id=parse_id(query.iteration_id, "iteration id") if query.iteration_id else None,
            application=query.application,
            start_time=query.start_time,
            end_time=query.end_time,
            tag_thresholds=thresholds,
            newest_first=order == "Newest",
            max_count=max_count,
            offset=offset,
        ),
    )
    domain_type = domains.get_domain(svc.projects.get(project_id).domain_id).type
    links = ImageLinks(str(request.base_url), svc.signer)
    token = query.model_copy(update={"continuation": str(following) if following is not None else None})
    result = s.PredictionQueryResult(
        token=token, results=[stored_prediction_out(p, domain_type, links) for p in page]
    )
    return s.dump(result)


@router.delete("/projects/{projectId}/predictions", status_code=204)
def delete_prediction(svc: ServicesDep, project_id: ProjectId, ids: IdList = None) -> Response:
    prediction_ids = parse_id_list(ids, "prediction id", max_items=64)
    if not prediction_ids:
        raise BadRequest(ErrorCode.BadRequestPredictionIdsMissing, "ids is required.")
    svc.stored_predictions.delete(project_id, prediction_ids)
    return Response(status_code=204)
