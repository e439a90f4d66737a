"""Request dependencies: the service container, key checks and id parsing."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from tagsight.config import Settings
from tagsight.errors import BadRequest, ErrorCode, Unauthorized
from tagsight.services.artifacts import ArtifactService
from tagsight.services.datasets import DatasetService
from tagsight.services.exports import ExportService
from tagsight.services.image_files import ImageFiles
from tagsight.services.images import ImageService
from tagsight.services.iterations import IterationService
from tagsight.services.labels import LabelService
from tagsight.services.links import LinkSigner
from tagsight.services.prediction import PredictionService, StoredPredictionService
from tagsight.services.project_copy import ProjectCopyService
from tagsight.services.projects import ProjectService
from tagsight.services.proposals import ProposalService
from tagsight.services.suggestions import SuggestionService
from tagsight.services.tags import TagService
from tagsight.services.training import TrainingService
from tagsight.services.uploads import UploadService
from tagsight.services.url_fetch import UrlFetcher
from tagsight.store.keys import Keys
from tagsight.training.worker import TrainingWorker


@dataclass
class Services:
    """Everything a handler may call, built once in the app's lifespan."""

    settings: Settings
    keys: Keys
    signer: LinkSigner
    fetcher: UrlFetcher
    files: ImageFiles
    projects: ProjectService
    tags: TagService
    images: ImageService
    uploads: UploadService
    labels: LabelService
    training: TrainingService
    iterations: IterationService
    predictions: PredictionService
    stored_predictions: StoredPredictionService
    proposals: ProposalService
    suggestions: SuggestionService
    artifacts: ArtifactService
    datasets: DatasetService
    project_copy: ProjectCopyService
    worker: TrainingWorker
    exports: ExportService


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your resource."
)


def _check_key(request: Request, header: str, expected: str) -> None:
    # Header names are case-insensitive in Starlette, so Training-Key and Training-key both match.
    given = request.headers.get(header) or request.headers.get("ocp-apim-subscription-key")
    if not given or not secrets.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized(ErrorCode.Unauthorized, _DENIED)


def require_training_key(request: Request, services: ServicesDep) -> None:
    _check_key(request, "training-key", services.keys.training_key)


def require_prediction_key(request: Request, services: ServicesDep) -> None:
    _check_key(request, "prediction-key", services.keys.prediction_key)


def parse_id(value: str, what: str = "id") -> str:
    """A GUID in canonical lower-case form, or 400."""
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise BadRequest(
            ErrorCode.BadRequestInvalidIds, f"'{value}' is not a valid {what} (a GUID)."
        ) from exc


def parse_id_list(values: list[str] | None, what: str, *, max_items: int | None = None) -> list[str]:
    """Ids sent as one comma-separated value (the SDK's way) or repeated; order kept, no repeats."""
    ids: list[str] = []
    for value in values or ():
        ids.extend(parse_id(v.strip(), what) for v in value.split(",") if v.strip())
    ids = list(dict.fromkeys(ids))
    if max_items is not None and len(ids) > max_items:
        raise BadRequest(ErrorCode.BadRequestInvalidIds, f"At most {max_items} {what}s may be given.")
    return ids


def project_id_param(projectId: str) -> str:  # noqa: N803 - the wire name
    return parse_id(projectId, "project id")


ProjectId = Annotated[str, Depends(project_id_param)]
IdList = Annotated[list[str] | None, Query()]
