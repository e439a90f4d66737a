"""Training API: the smart labeler (suggested tags and regions) and project artifacts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from tagsight.api.azure import schemas as s
from tagsight.api.azure.views import ImageLinks, stored_suggestion_out, suggestion_out
from tagsight.api.deps import IdList, ProjectId, ServicesDep, parse_id, parse_id_list, require_training_key
from tagsight.services import domains
from tagsight.services.suggestions import MAX_IMAGES_PER_REQUEST, SuggestionQuery

router = APIRouter(dependencies=[Depends(require_training_key)])

IterationId = Annotated[str, Query(alias="iterationId")]


@router.post("/projects/{projectId}/tagsandregions/suggestions")
def suggest_tags_and_regions(
    svc: ServicesDep,
    project_id: ProjectId,
    iteration_id: IterationId,
    imageIds: IdList = None,  # noqa: N803
) -> Any:
    ids = parse_id_list(imageIds, "image id", max_items=MAX_IMAGES_PER_REQUEST)
    views = svc.suggestions.suggest(project_id, parse_id(iteration_id, "iteration id"), ids)
    return s.dump([suggestion_out(v, project_id) for v in views])


@router.post("/projects/{projectId}/images/suggested")
def query_suggested_images(
    request: Request,
    svc: ServicesDep,
    project_id: ProjectId,
    iteration_id: IterationId,
    token: Annotated[s.SuggestedTagAndRegionQueryToken | None, Body()] = None,
) -> Any:
    token = token or s.SuggestedTagAndRegionQueryToken()
    page = svc.suggestions.query(
        project_id,
        parse_id(iteration_id, "iteration id"),
        SuggestionQuery(
            tag_ids=tuple(dict.fromkeys(parse_id(t, "tag id") for t in token.tag_ids or ())),
            threshold=token.threshold,
            sort_by=token.sort_by or "UncertaintyDescending",
            max_count=50 if token.max_count is None else token.max_count,
            continuation=token.continuation or None,
            session=token.session or None,
        ),
    )
    domain_type = domains.get_domain(svc.projects.get(project_id).domain_id).type
    links = ImageLinks(str(request.base_url), svc.signer)
    body = s.SuggestedTagAndRegionQuery(
        token=token.model_copy(update={"continuation": page.continuation, "session": page.session}),
        results=[stored_suggestion_out(v, domain_type, links) for v in page.items],
    )
    return s.dump(body)


@router.post("/projects/{projectId}/images/suggested/count")
def query_suggested_image_count(
    svc: ServicesDep,
    project_id: ProjectId,
    iteration_id: IterationId,
    tag_filter: Annotated[s.TagFilter | None, Body()] = None,
) -> dict[str, int]:
    tag_filter = tag_filter or s.TagFilter()
    return svc.suggestions.counts(
        project_id,
        parse_id(iteration_id, "iteration id"),
        tag_ids=list(dict.fromkeys(parse_id(t, "tag id") for t in tag_filter.tag_ids or ())),
        threshold=tag_filter.threshold,
    )


@router.get("/projects/{projectId}/artifacts")
def get_artifact(svc: ServicesDep, project_id: ProjectId, path: Annotated[str, Query()]) -> Response:
    artifact = svc.artifacts.get(project_id, path)
    return Response(
        artifact.data,
        media_type=artifact.media_type,
        headers={"Content-Disposition": f'attachment; filename="{artifact.filename}"'},
    )
