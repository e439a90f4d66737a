"""Serving export zips behind ``downloadUri``: a signed link, or the training key."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response

from tagsight.api.deps import ServicesDep, parse_id
from tagsight.errors import ErrorCode, Forbidden
from tagsight.services.exports import export_path

router = APIRouter()


@router.get("/tagsight/exports/{export_id}")
def get_export_file(
    request: Request, svc: ServicesDep, export_id: str, se: int = 0, sig: str = ""
) -> Response:
    export_id = parse_id(export_id, "export id")
    key = request.headers.get("training-key") or request.headers.get("ocp-apim-subscription-key") or ""
    keyed = bool(key) and secrets.compare_digest(key.encode(), svc.keys.training_key.encode())
    if not keyed and not svc.signer.verify(export_path(export_id), se, sig):
        raise Forbidden(ErrorCode.Forbidden, "The link is invalid or has expired; list the exports again.")
    data, name = svc.exports.download(export_id)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private"},
    )
