"""Table rows and service results → wire models."""

from __future__ import annotations

from tagsight.api.azure import schemas as s
from tagsight.services.domains import Domain
from tagsight.services.links import LinkSigner, image_path
from tagsight.services.tags import TagView
from tagsight.store.tables import Image, Project


def domain_out(d: Domain) -> s.DomainOut:
    return s.DomainOut(
        id=d.id,
        name=d.name,
        type=d.type,
        exportable=d.exportable,
        enabled=d.enabled,
        exportable_platforms=list(d.exportable_platforms),
        model_information=s.ModelInformation(
            estimated_model_size_in_megabytes=d.estimated_size_mb, description=d.description
        ),
    )


def project_out(p: Project) -> s.ProjectOut:
    processing = p.image_processing or {}
    return s.ProjectOut(
        id=p.id,
        name=p.name,
        description=p.description,
        settings=s.ProjectSettings(
            domain_id=p.domain_id,
            classification_type=p.classification_type,
            target_export_platforms=list(p.target_export_platforms),
            use_negative_set=True,
            image_processing_settings=s.ImageProcessingSettings(
                augmentation_methods=processing.get("augmentationMethods")
            ),
            export_model_container_uri=p.export_model_container_uri,
            notification_queue_uri=p.notification_queue_uri,
        ),
        created=p.created,
        last_modified=p.last_modified,
        status=p.status,
    )


def tag_out(view: TagView) -> s.TagOut:
    t = view.tag
    return s.TagOut(
        id=t.id, name=t.name, description=t.description, type=t.type, image_count=view.image_count
    )


class ImageLinks:
    """Absolute, signed URLs for one request's base URL."""

    def __init__(self, base_url: str, signer: LinkSigner) -> None:
        self.base_url = base_url.rstrip("/")
        self.signer = signer

    def __call__(self, kind: str, content_hash: str) -> str:
        return self.base_url + self.signer.sign(image_path(kind, content_hash))


def image_out(image: Image, links: ImageLinks) -> s.ImageOut:
    original = links("original", image.content_hash)
    return s.ImageOut(
        id=image.id,
        created=image.created,
        width=image.width,
        height=image.height,
        resized_image_uri=original,
        thumbnail_uri=links("thumbnail", image.content_hash),
        original_image_uri=original,
        tags=[s.ImageTagOut(tag_id=t.tag_id, tag_name=t.tag.name, created=t.created) for t in image.tags],
        regions=[
            s.ImageRegionOut(
                region_id=r.id,
                tag_name=r.tag.name,
                created=r.created,
                tag_id=r.tag_id,
                left=r.left,
                top=r.top,
                width=r.width,
                height=r.height,
            )
            for r in image.regions
        ],
        metadata=dict(image.metadata_) or None,
    )
