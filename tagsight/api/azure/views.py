"""Table rows and service results → wire models."""

from __future__ import annotations

from typing import Any

from tagsight.api.azure import schemas as s
from tagsight.services.domains import Domain, export_platforms, find_domain
from tagsight.services.exports import DONE, export_path
from tagsight.services.iterations import ImagePerformanceView, Performance
from tagsight.services.links import LinkSigner, image_path
from tagsight.services.prediction import PredictionResult
from tagsight.services.suggestions import SuggestionView
from tagsight.services.tags import TagView
from tagsight.store.tables import Export, Image, Iteration, Project, StoredPrediction
from tagsight.vision.metrics import Figures


def domain_out(d: Domain) -> s.DomainOut:
    return s.DomainOut(
        id=d.id,
        name=d.name,
        type=d.type,
        exportable=d.exportable,
        enabled=d.enabled,
        exportable_platforms=export_platforms(d),
        model_information=s.ModelInformation(
            estimated_model_size_in_megabytes=d.estimated_size_mb, description=d.description
        ),
    )


def project_out(p: Project, thumbnail_uri: str | None = None) -> s.ProjectOut:
    """``thumbnail_uri``: the newest image's thumbnail, as Azure shows; None for an empty project."""
    processing = p.image_processing or {}
    return s.ProjectOut(
        id=p.id,
        name=p.name,
        description=p.description,
        thumbnail_uri=thumbnail_uri,
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


def iteration_out(it: Iteration) -> s.IterationOut:
    domain = find_domain(it.domain_id)
    exportable = bool(domain and domain.exportable and it.status == "Completed")
    return s.IterationOut(
        id=it.id,
        name=it.name,
        status=it.status,
        created=it.created,
        last_modified=it.last_modified,
        trained_at=it.trained_at,
        project_id=it.project_id,
        exportable=exportable,
        exportable_to=export_platforms(domain) if exportable and domain else [],
        domain_id=it.domain_id,
        classification_type=it.classification_type,
        training_type=it.training_type,
        reserved_budget_in_hours=it.reserved_budget_in_hours,
        training_time_in_minutes=it.training_time_in_minutes,
        publish_name=it.publish_name,
        original_publish_resource_id=it.original_publish_resource_id,
        training_error_details=it.training_error_details,
        training_progress=round(it.progress, 4),
        training_message=it.progress_message,
    )


def export_out(export: Export, base_url: str, signer: LinkSigner) -> s.ExportOut:
    done = export.status == DONE
    return s.ExportOut(
        platform=export.platform,
        status=export.status,
        download_uri=base_url.rstrip("/") + signer.sign(export_path(export.id)) if done else None,
        flavor=export.flavor or None,
        newer_version_available=False,
        export_error_details=export.error if export.status == "Failed" else None,
    )


def _figures(f: Figures) -> dict[str, float]:
    return {
        "precision": f.precision,
        "precision_std_deviation": f.precision_std,
        "recall": f.recall,
        "recall_std_deviation": f.recall_std,
        "average_precision": f.average_precision,
    }


def performance_out(perf: Performance) -> s.IterationPerformance:
    return s.IterationPerformance(
        per_tag_performance=[
            s.TagPerformance(id=t.tag_id, name=t.name, **_figures(f)) for t, f in perf.per_tag
        ],
        **_figures(perf.overall),
    )


def predictions_out(results: list[dict[str, Any]]) -> list[s.PredictionOut]:
    return [
        s.PredictionOut(
            probability=r["probability"],
            tag_id=r["tagId"],
            tag_name=r.get("tagName", ""),
            tag_type=r.get("tagType"),
            bounding_box=s.BoundingBox(**r["boundingBox"]) if r.get("boundingBox") else None,
        )
        for r in results
    ]


def image_performance_out(view: ImagePerformanceView, links: ImageLinks) -> s.ImagePerformance:
    row = view.row
    scored = sorted(row.predictions or (), key=lambda p: -p["probability"])
    named = [{**p, "tagName": view.tag_names.get(p["tagId"], "")} for p in scored]
    return s.ImagePerformance(
        predictions=predictions_out(named),
        id=row.image_id,
        created=row.image_created,
        width=row.width,
        height=row.height,
        image_uri=links("original", row.content_hash),
        thumbnail_uri=links("thumbnail", row.content_hash),
        tags=[
            s.ImageTagOut(tag_id=t, tag_name=view.tag_names.get(t, ""), created=row.image_created)
            for t in row.tag_ids
        ],
        regions=[
            s.ImageRegionOut(
                region_id=f"{row.image_id}-{n}",
                tag_name=view.tag_names.get(r["tagId"], ""),
                created=row.image_created,
                tag_id=r["tagId"],
                left=r["left"],
                top=r["top"],
                width=r["width"],
                height=r["height"],
            )
            for n, r in enumerate(row.regions or ())
        ],
    )


def image_prediction_out(result: PredictionResult) -> s.ImagePrediction:
    return s.ImagePrediction(
        id=result.id,
        project=result.project_id,
        iteration=result.iteration_id,
        created=result.created,
        predictions=predictions_out(result.predictions),
    )


def stored_prediction_out(
    p: StoredPrediction, domain_type: str, links: ImageLinks
) -> s.StoredImagePrediction:
    original = links("original", p.content_hash)
    return s.StoredImagePrediction(
        id=p.id,
        project=p.project_id,
        iteration=p.iteration_id,
        created=p.created,
        predictions=predictions_out(p.results),
        resized_image_uri=original,
        thumbnail_uri=links("thumbnail", p.content_hash),
        original_image_uri=original,
        domain=domain_type,
    )


def suggestion_out(view: SuggestionView, project_id: str) -> s.SuggestedTagAndRegion:
    row = view.suggestion
    return s.SuggestedTagAndRegion(
        id=row.image_id,
        project=project_id,
        iteration=row.iteration_id,
        created=row.created,
        predictions=predictions_out(row.predictions),
        prediction_uncertainty=row.uncertainty,
    )


def stored_suggestion_out(
    view: SuggestionView, domain_type: str, links: ImageLinks
) -> s.StoredSuggestedTagAndRegion:
    image = view.image
    original = links("original", image.content_hash)
    return s.StoredSuggestedTagAndRegion(
        **suggestion_out(view, image.project_id).model_dump(),
        width=image.width,
        height=image.height,
        resized_image_uri=original,
        thumbnail_uri=links("thumbnail", image.content_hash),
        original_image_uri=original,
        domain=domain_type,
    )
