"""Region proposals (``get_image_region_proposals``): boxes to start labelling from.

From the project's latest trained detector when there is one (its boxes, any class); before any
training, from the pretrained backbone's activations (``vision.proposals``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from tagsight.errors import BadRequest, ErrorCode, NotFound
from tagsight.services import domains
from tagsight.services.image_files import ImageFiles
from tagsight.services.prediction import PredictionService
from tagsight.services.projects import require_project
from tagsight.store.feature_cache import BlobFeatureCache
from tagsight.store.repos import images as image_repo
from tagsight.store.repos import iterations as iteration_repo
from tagsight.vision.imageio import decode_rgb
from tagsight.vision.pixels import model_pixels
from tagsight.vision.proposals import saliency_proposals

Box = tuple[float, ...]


@dataclass(frozen=True)
class Proposal:
    confidence: float
    box: Box  # normalised left, top, width, height


class ProposalService:
    def __init__(
        self,
        db: sessionmaker[Session],
        files: ImageFiles,
        predictions: PredictionService,
        cache: BlobFeatureCache,
    ) -> None:
        self.db = db
        self.files = files
        self.predictions = predictions
        self.cache = cache

    def propose(self, project_id: str, image_id: str) -> list[Proposal]:
        with self.db() as session:
            project = require_project(session, project_id)
            image = image_repo.by_ids(session, project_id=project_id, image_ids=[image_id]).get(image_id)
            if image is None:
                raise NotFound(
                    ErrorCode.NotFoundImage, f"Image {image_id} not found in project {project_id}."
                )
            latest = iteration_repo.latest_completed(session, project_id=project_id)
        if domains.get_domain(project.domain_id).type != domains.OBJECT_DETECTION:
            raise BadRequest(
                ErrorCode.BadRequestNotSupported, "Region proposals are for object detection projects."
            )
        data = self.files.original(image.content_hash)
        if latest is not None and latest.model_key is not None:
            found = self.predictions.region_proposals(latest, data)
            if found:
                return [Proposal(score, box) for score, box in found]
        return self._generic(data)

    def _generic(self, data: bytes) -> list[Proposal]:
        from tagsight.vision.train_detector import (  # needs torch once, to export
            DetectorTrainConfig,
            maps_model,
        )

        model = maps_model(DetectorTrainConfig(), self.cache)
        pixels = model_pixels(decode_rgb(data, at_least=model.input_size), model.input_size)[None]
        feature_map = model.run_pixels(pixels)["s32"][0]
        return [Proposal(score, box) for score, box in saliency_proposals(feature_map)]
