"""Serving image files behind signed links (``originalImageUri``, ``thumbnailUri``)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Response

from tagsight.api.deps import ServicesDep
from tagsight.errors import ErrorCode, Forbidden, NotFound
from tagsight.services.links import IMAGE_KINDS, image_path

router = APIRouter()

_HASH = re.compile(r"^[0-9a-f]{64}$")
_MIME = {b"\xff\xd8": "image/jpeg", b"\x89P": "image/png", b"BM": "image/bmp", b"GI": "image/gif"}


def _mime(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return _MIME.get(data[:2], "application/octet-stream")


@router.get("/tagsight/images/{kind}/{content_hash}")
def get_image_file(svc: ServicesDep, kind: str, content_hash: str, se: int = 0, sig: str = "") -> Response:
    if kind not in IMAGE_KINDS or not _HASH.match(content_hash):
        raise NotFound(ErrorCode.NotFoundImage, "No such image file.")
    if not svc.signer.verify(image_path(kind, content_hash), se, sig):
        raise Forbidden(ErrorCode.Forbidden, "The link is invalid or has expired; list the image again.")
    try:
        data = svc.files.original(content_hash) if kind == "original" else svc.files.thumbnail(content_hash)
    except FileNotFoundError as exc:
        raise NotFound(ErrorCode.NotFoundImage, "The image has been deleted.") from exc
    media_type = "image/jpeg" if kind == "thumbnail" else _mime(data)
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})
