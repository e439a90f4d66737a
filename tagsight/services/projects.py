"""Projects: create, read, update, delete, with Azure's rules for names, domains and settings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tagsight.config import Limits
from tagsight.errors import BadRequest, ErrorCode, NotFound
from tagsight.services import domains
from tagsight.services.image_files import ImageFiles
from tagsight.store.db import transaction
from tagsight.store.repos import images as image_repo
from tagsight.store.repos import iterations as iteration_repo
from tagsight.store.repos import projects as project_repo
from tagsight.store.tables import Project, utcnow

CLASSIFICATION_TYPES = ("Multiclass", "Multilabel")


@dataclass(frozen=True)
class ProjectFields:
    """What a caller may set on a project; ``None`` means "leave as is" on update."""

    name: str | None = None
    description: str | None = None
    domain_id: str | None = None
    classification_type: str | None = None
    target_export_platforms: list[str] | None = None
    image_processing: dict[str, Any] | None = None
    export_model_container_uri: str | None = None
    notification_queue_uri: str | None = None


def require_project(session: Session, project_id: str) -> Project:
    project = project_repo.get(session, project_id=project_id)
    if project is None:
        raise NotFound(ErrorCode.NotFoundProject, f"Project {project_id} not found.")
    return project


def domain_of(project: Project) -> domains.Domain:
    return domains.get_domain(project.domain_id)


def is_detection(project: Project) -> bool:
    return domain_of(project).type == domains.OBJECT_DETECTION


class ProjectService:
    def __init__(self, db: sessionmaker[Session], limits: Limits, files: ImageFiles) -> None:
        self.db = db
        self.limits = limits
        self.files = files

    def list(self) -> list[Project]:
        with self.db() as session:
            return project_repo.list_all(session)

    def get(self, project_id: str) -> Project:
        with self.db() as session:
            return require_project(session, project_id)

    def create(self, fields: ProjectFields) -> Project:
        with transaction(self.db) as session:
            if project_repo.count(session) >= self.limits.projects:
                raise BadRequest(
                    ErrorCode.BadRequestExceedProjectLimit,
                    f"The limit of {self.limits.projects} projects has been reached.",
                )
            project = Project(id=str(uuid.uuid4()), description="", target_export_platforms=[])
            self._apply(session, project, fields, creating=True)
            session.add(project)
            return project

    def update(self, project_id: str, fields: ProjectFields) -> Project:
        with transaction(self.db) as session:
            project = require_project(session, project_id)
            self._apply(session, project, fields, creating=False)
            project.last_modified = utcnow()
            return project

    def delete(self, project_id: str) -> None:
        """Delete the project with its images, iterations, models and stored predictions."""
        with transaction(self.db) as session:
            project = require_project(session, project_id)
            if iteration_repo.any_published(session, project_id=project_id):
                raise BadRequest(
                    ErrorCode.BadRequestIterationIsPublished,
                    "The project has a published iteration; unpublish it before deleting the project.",
                )
            hashes = image_repo.hashes_for(session, project_id=project_id, image_ids=None)
            models = [i.model_key for i in iteration_repo.list_for_project(session, project_id=project_id)]
            session.delete(project)
        self.files.discard_unreferenced(hashes)
        for key in models:
            if key:
                self.files.blobs.delete(key)

    def _apply(self, session: Session, project: Project, f: ProjectFields, *, creating: bool) -> None:
        if f.name is not None or creating:
            name = (f.name or "").strip()
            if not name or len(name) > self.limits.project_name_length:
                raise BadRequest(
                    ErrorCode.BadRequestProjectName,
                    f"A project name must have 1 to {self.limits.project_name_length} characters.",
                )
            if project_repo.name_taken(session, name=name, exclude_id=None if creating else project.id):
                raise BadRequest(
                    ErrorCode.BadRequestProjectNameNotUnique, f"A project named '{name}' already exists."
                )
            project.name = name
        if f.description is not None:
            if len(f.description) > self.limits.description_length:
                raise BadRequest(ErrorCode.BadRequestProjectDescription, "The description is too long.")
            project.description = f.description
        self._apply_domain(project, f, creating=creating)
        if f.target_export_platforms is not None:
            domain = domain_of(project)
            unsupported = [p for p in f.target_export_platforms if p not in domain.exportable_platforms]
            if unsupported:
                raise BadRequest(
                    ErrorCode.BadRequestProjectUnsupportedExportPlatform,
                    f"Domain '{domain.name}' cannot export to {', '.join(unsupported)}; "
                    "choose a compact domain to export models.",
                )
            project.target_export_platforms = list(f.target_export_platforms)
        if f.image_processing is not None:
            methods = f.image_processing.get("augmentationMethods") or {}
            if not isinstance(methods, dict) or not all(isinstance(v, bool) for v in methods.values()):
                raise BadRequest(
                    ErrorCode.BadRequestProjectImagePreprocessingSettings,
                    "imageProcessingSettings.augmentationMethods must map names to booleans.",
                )
            project.image_processing = {"augmentationMethods": dict(methods)}
        if creating:
            project.export_model_container_uri = f.export_model_container_uri
            project.notification_queue_uri = f.notification_queue_uri

    def _apply_domain(self, project: Project, f: ProjectFields, *, creating: bool) -> None:
        if f.domain_id is not None or creating:
            domain_id = (f.domain_id or domains.DEFAULT_CLASSIFICATION_DOMAIN).lower()
            domain = domains.find_domain(domain_id)
            if domain is None:
                raise BadRequest(ErrorCode.BadRequestProjectUnknownDomain, f"Unknown domain {domain_id}.")
            if not creating and domain.type != domain_of(project).type:
                raise BadRequest(
                    ErrorCode.BadRequestProjectUnsupportedDomainTypeChange,
                    "A project cannot change between classification and object detection.",
                )
            project.domain_id = domain.id
        if f.classification_type is not None and f.classification_type not in CLASSIFICATION_TYPES:
            raise BadRequest(
                ErrorCode.BadRequestProjectUnknownClassification,
                f"Unknown classification type '{f.classification_type}'; use Multiclass or Multilabel.",
            )
        if domain_of(project).type == domains.OBJECT_DETECTION:
            project.classification_type = None
        elif f.classification_type is not None:
            project.classification_type = f.classification_type
        elif creating or project.classification_type is None:
            project.classification_type = "Multiclass"
