"""``get_artifact``: a project's stored files, by a path built from ids the caller already has.

Azure serves "artifacts" from its blob storage by relative path. Tagsight's blob keys are an
internal layout (content hashes shared across projects), so the paths it accepts name a file by
the project's own ids instead, and never reach outside the project:

    images/{imageId}/original            a training image as uploaded
    images/{imageId}/thumbnail           its thumbnail (JPEG)
    predictions/{predictionId}/original  the image behind a stored prediction
    predictions/{predictionId}/thumbnail
    iterations/{iterationId}/model.onnx  a trained iteration's ONNX model

Anything else, or an id that is not in the project, is ``BadRequestInvalidArtifactUri``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from tagsight.errors import BadRequest, ErrorCode
from tagsight.services.projects import require_project
from tagsight.store.blobs import BlobStore, original_key, thumbnail_key
from tagsight.store.repos import images as image_repo
from tagsight.store.repos import iterations as iteration_repo
from tagsight.store.repos import predictions as prediction_repo

_PATH = re.compile(
    r"^(?:(?P<kind>images|predictions)/(?P<id>[^/]+)/(?P<file>original|thumbnail)"
    r"|iterations/(?P<iteration>[^/]+)/model\.onnx)$"
)
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"GIF8", "image/gif", "gif"),
    (b"BM", "image/bmp", "bmp"),
)


@dataclass(frozen=True)
class Artifact:
    data: bytes
    media_type: str
    filename: str


def media_type(data: bytes) -> tuple[str, str]:
    """(media type, file extension) of an image from its first bytes; else a plain byte stream."""
    for signature, kind, extension in _SIGNATURES:
        if data.startswith(signature):
            return kind, extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return "application/octet-stream", "bin"


def _invalid(path: str) -> BadRequest:
    return BadRequest(
        ErrorCode.BadRequestInvalidArtifactUri,
        f"'{path}' is not an artifact of this project. Valid paths: images/<imageId>/original, "
        "images/<imageId>/thumbnail, predictions/<predictionId>/original, "
        "predictions/<predictionId>/thumbnail, iterations/<iterationId>/model.onnx.",
    )


def _canonical_id(value: str, path: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise _invalid(path) from exc


class ArtifactService:
    def __init__(self, db: sessionmaker[Session], blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    def get(self, project_id: str, path: str) -> Artifact:
        match = _PATH.match(path.strip().lstrip("/"))
        if match is None:
            raise _invalid(path)
        with self.db() as session:
            require_project(session, project_id)
            key = self._key(session, project_id, match, path)
        if key is None:
            raise _invalid(path)
        try:
            data = self.blobs.get(key)
        except FileNotFoundError as exc:
            raise _invalid(path) from exc
        if match["iteration"]:
            return Artifact(data, "application/octet-stream", "model.onnx")
        kind, extension = media_type(data)
        return Artifact(data, kind, f"{match['file']}.{extension}")

    @staticmethod
    def _key(session: Session, project_id: str, match: re.Match[str], path: str) -> str | None:
        if match["iteration"]:
            iteration_id = _canonical_id(match["iteration"], path)
            iteration = iteration_repo.get(session, project_id=project_id, iteration_id=iteration_id)
            return iteration.model_key if iteration is not None else None
        item_id = _canonical_id(match["id"], path)
        if match["kind"] == "images":
            image = image_repo.by_ids(session, project_id=project_id, image_ids=[item_id]).get(item_id)
            content_hash = image.content_hash if image is not None else None
        else:
            row = prediction_repo.get(session, project_id=project_id, prediction_id=item_id)
            content_hash = row.content_hash if row is not None else None
        if content_hash is None:
            return None
        return original_key(content_hash) if match["file"] == "original" else thumbnail_key(content_hash)
