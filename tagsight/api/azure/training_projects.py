"""Training API: domains, projects (with export and import between projects) and tags."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from tagsight.api.azure import schemas as s
from tagsight.api.azure.views import ImageLinks, domain_out, project_out, tag_out
from tagsight.api.deps import IdList, ProjectId, Services, ServicesDep, parse_id, require_training_key
from tagsight.services import domains
from tagsight.services.projects import ProjectFields
from tagsight.store.tables import Project

router = APIRouter(dependencies=[Depends(require_training_key)])


@router.get("/domains")
def get_domains() -> Any:
    return s.dump([domain_out(d) for d in domains.list_domains()])


@router.get("/domains/{domainId}")
def get_domain(domainId: str) -> Any:  # noqa: N803
    return s.dump(domain_out(domains.get_domain(parse_id(domainId, "domain id"))))


def _project(svc: Services, request: Request, project: Project) -> s.ProjectOut:
    newest = svc.images.list(project.id, take=1)
    thumbnail = (
        ImageLinks(str(request.base_url), svc.signer)("thumbnail", newest[0].content_hash) if newest else None
    )
    return project_out(project, thumbnail)


@router.get("/projects")
def get_projects(svc: ServicesDep, request: Request) -> Any:
    return s.dump([_project(svc, request, p) for p in svc.projects.list()])


@router.post("/projects")
def create_project(
    svc: ServicesDep,
    name: Annotated[str, Query()],
    description: str | None = None,
    domainId: str | None = None,  # noqa: N803
    classificationType: str | None = None,  # noqa: N803
    targetExportPlatforms: IdList = None,  # noqa: N803
    options: Annotated[s.CreateProjectOptions | None, Body()] = None,
) -> Any:
    platforms = [p for v in targetExportPlatforms or () for p in v.split(",") if p] or None
    fields = ProjectFields(
        name=name,
        description=description or "",
        domain_id=parse_id(domainId, "domain id") if domainId else None,
        classification_type=classificationType,
        target_export_platforms=platforms,
        export_model_container_uri=options.export_model_container_uri if options else None,
        notification_queue_uri=options.notification_queue_uri if options else None,
    )
    return s.dump(project_out(svc.projects.create(fields)))


@router.get("/projects/{projectId}")
def get_project(svc: ServicesDep, request: Request, project_id: ProjectId) -> Any:
    return s.dump(_project(svc, request, svc.projects.get(project_id)))


@router.patch("/projects/{projectId}")
def update_project(svc: ServicesDep, request: Request, project_id: ProjectId, body: s.ProjectUpdate) -> Any:
    settings = body.settings or s.ProjectSettings()
    processing = settings.image_processing_settings
    fields = ProjectFields(
        name=body.name,
        description=body.description,
        domain_id=parse_id(settings.domain_id, "domain id") if settings.domain_id else None,
        classification_type=settings.classification_type,
        target_export_platforms=settings.target_export_platforms,
        image_processing=processing.model_dump(by_alias=True) if processing else None,
    )
    return s.dump(_project(svc, request, svc.projects.update(project_id, fields)))


@router.delete("/projects/{projectId}", status_code=204)
def delete_project(svc: ServicesDep, project_id: ProjectId) -> Response:
    svc.projects.delete(project_id)
    return Response(status_code=204)


@router.get("/projects/{projectId}/export")
def export_project(svc: ServicesDep, project_id: ProjectId) -> Any:
    info = svc.project_copy.export(project_id)
    return s.dump(
        s.ProjectExport(
            iteration_count=info.iteration_count,
            image_count=info.image_count,
            tag_count=info.tag_count,
            region_count=info.region_count,
            estimatedImportTimeInMS=info.estimated_import_time_in_ms,
            token=info.token,
        )
    )


@router.post("/projects/import")
def import_project(
    svc: ServicesDep, request: Request, token: Annotated[str, Query()], name: str | None = None
) -> Any:
    project = svc.project_copy.import_project(token, name)
    return s.dump(_project(svc, request, project))


@router.get("/projects/{projectId}/tags")
def get_tags(svc: ServicesDep, project_id: ProjectId, iterationId: str | None = None) -> Any:  # noqa: N803
    iteration_id = parse_id(iterationId, "iteration id") if iterationId else None
    return s.dump([tag_out(t) for t in svc.tags.list(project_id, iteration_id)])


@router.post("/projects/{projectId}/tags")
def create_tag(
    svc: ServicesDep,
    project_id: ProjectId,
    name: Annotated[str, Query()],
    description: str | None = None,
    type: str | None = None,
) -> Any:
    return s.dump(tag_out(svc.tags.create(project_id, name=name, description=description, type=type)))


@router.get("/projects/{projectId}/tags/{tagId}")
def get_tag(svc: ServicesDep, project_id: ProjectId, tagId: str, iterationId: str | None = None) -> Any:  # noqa: N803
    iteration_id = parse_id(iterationId, "iteration id") if iterationId else None
    return s.dump(tag_out(svc.tags.get(project_id, parse_id(tagId, "tag id"), iteration_id)))


@router.patch("/projects/{projectId}/tags/{tagId}")
def update_tag(svc: ServicesDep, project_id: ProjectId, tagId: str, body: s.TagUpdate) -> Any:  # noqa: N803
    view = svc.tags.update(
        project_id, parse_id(tagId, "tag id"), name=body.name, description=body.description, type=body.type
    )
    return s.dump(tag_out(view))


@router.delete("/projects/{projectId}/tags/{tagId}", status_code=204)
def delete_tag(svc: ServicesDep, project_id: ProjectId, tagId: str) -> Response:  # noqa: N803
    svc.tags.delete(project_id, parse_id(tagId, "tag id"))
    return Response(status_code=204)
