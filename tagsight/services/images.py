"""Reading and deleting a project's images."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker

from tagsight.errors import BadRequest, ErrorCode, NotFound
from tagsight.services.image_files import ImageFiles
from tagsight.services.iterations import require_iteration
from tagsight.services.projects import require_project
from tagsight.store.db import transaction
from tagsight.store.repos import images as image_repo
from tagsight.store.repos import iterations as iteration_repo
from tagsight.store.repos import tags as tag_repo
from tagsight.store.repos.images import ImageFilter
from tagsight.store.tables import Image

ORDERS = ("Newest", "Oldest")
TAGGING = ("All", "Tagged", "Untagged")
MAX_TAKE = 256


class ImageService:
    def __init__(self, db: sessionmaker[Session], files: ImageFiles) -> None:
        self.db = db
        self.files = files

    def list(
        self,
        project_id: str,
        *,
        tagging: str = "All",
        tag_ids: Sequence[str] = (),
        iteration_id: str | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        order_by: str | None = None,
        take: int = 50,
        skip: int = 0,
    ) -> list[Image]:
        order = order_by or "Newest"
        if order not in ORDERS:
            raise BadRequest(ErrorCode.BadRequest, f"orderBy must be one of {', '.join(ORDERS)}.")
        if not 0 <= take <= MAX_TAKE or skip < 0:
            raise BadRequest(ErrorCode.BadRequest, f"take must be 0..{MAX_TAKE} and skip at least 0.")
        with self.db() as session:
            where = self._filter(session, project_id, tagging, tag_ids, iteration_id, metadata)
            return image_repo.list_filtered(
                session, where=where, newest_first=order == "Newest", take=take, skip=skip
            )

    def count(
        self,
        project_id: str,
        *,
        tagging: str = "All",
        tag_ids: Sequence[str] = (),
        iteration_id: str | None = None,
        metadata: Sequence[tuple[str, str]] = (),
    ) -> int:
        with self.db() as session:
            where = self._filter(session, project_id, tagging, tag_ids, iteration_id, metadata)
            return image_repo.count_filtered(session, where=where)

    def by_ids(
        self, project_id: str, image_ids: Sequence[str], iteration_id: str | None = None
    ) -> list[Image]:
        """The images with these ids, in the order asked; ids not in the project are left out."""
        with self.db() as session:
            require_project(session, project_id)
            found = image_repo.by_ids(session, project_id=project_id, image_ids=image_ids)
            if iteration_id is not None:
                require_iteration(session, project_id, iteration_id)
                trained = iteration_repo.image_ids(session, iteration_id=iteration_id)
                found = {k: v for k, v in found.items() if k in trained}
            return [found[i] for i in dict.fromkeys(image_ids) if i in found]

    def delete(self, project_id: str, *, image_ids: Sequence[str] | None, all_images: bool) -> int:
        if not all_images and not image_ids:
            raise BadRequest(ErrorCode.BadRequestInvalidIds, "Give imageIds, or allImages=true.")
        with transaction(self.db) as session:
            require_project(session, project_id)
            ids = None if all_images else list(image_ids or ())
            hashes = image_repo.hashes_for(session, project_id=project_id, image_ids=ids)
            deleted = image_repo.delete_images(session, project_id=project_id, image_ids=ids)
        self.files.discard_unreferenced(hashes)
        return deleted

    def _filter(
        self,
        session: Session,
        project_id: str,
        tagging: str,
        tag_ids: Sequence[str],
        iteration_id: str | None,
        metadata: Sequence[tuple[str, str]],
    ) -> ImageFilter:
        if tagging not in TAGGING:
            raise BadRequest(ErrorCode.BadRequest, f"taggingStatus must be one of {', '.join(TAGGING)}.")
        require_project(session, project_id)
        if iteration_id is not None:
            require_iteration(session, project_id, iteration_id)
        if tag_ids:
            found = tag_repo.by_ids(session, project_id=project_id, tag_ids=tag_ids)
            missing = sorted(set(tag_ids) - found.keys())
            if missing:
                raise NotFound(
                    ErrorCode.NotFoundTag, f"Tag(s) {', '.join(missing)} not found in this project."
                )
        return ImageFilter(project_id, tagging, tuple(tag_ids), tuple(metadata), iteration_id)
