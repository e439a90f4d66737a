"""Request and response bodies, camelCase on the wire as Azure sends them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


# --- domains -----------------------------------------------------------------------------------


class ModelInformation(Wire):
    estimated_model_size_in_megabytes: int | None = None
    description: str


class DomainOut(Wire):
    id: str
    name: str
    type: str
    exportable: bool
    enabled: bool
    exportable_platforms: list[str]
    model_information: ModelInformation


# --- projects ----------------------------------------------------------------------------------


class ImageProcessingSettings(Wire):
    augmentation_methods: dict[str, bool] | None = None


class ProjectSettings(Wire):
    domain_id: str | None = None
    classification_type: str | None = None
    target_export_platforms: list[str] | None = None
    use_negative_set: bool | None = None
    detection_parameters: str | None = None
    image_processing_settings: ImageProcessingSettings | None = None
    export_model_container_uri: str | None = None
    notification_queue_uri: str | None = None


class ProjectOut(Wire):
    id: str
    name: str
    description: str
    settings: ProjectSettings
    created: datetime
    last_modified: datetime
    thumbnail_uri: str | None = None
    dr_mode_enabled: bool = False
    status: str = "Succeeded"


class ProjectUpdate(Wire):
    name: str | None = None
    description: str | None = None
    settings: ProjectSettings | None = None


class CreateProjectOptions(Wire):
    export_model_container_uri: str | None = None
    notification_queue_uri: str | None = None


class ProjectExport(Wire):
    iteration_count: int
    image_count: int
    tag_count: int
    region_count: int
    # Azure capitalises "MS", which the camelCase generator would not.
    estimated_import_time_in_ms: int = Field(alias="estimatedImportTimeInMS")
    token: str


# --- tags --------------------------------------------------------------------------------------


class TagOut(Wire):
    id: str
    name: str
    description: str
    type: str
    image_count: int


class TagUpdate(Wire):
    name: str | None = None
    description: str | None = None
    type: str | None = None


# --- images ------------------------------------------------------------------------------------


class ImageTagOut(Wire):
    tag_id: str
    tag_name: str
    created: datetime


class ImageRegionOut(Wire):
    region_id: str
    tag_name: str
    created: datetime
    tag_id: str
    left: float
    top: float
    width: float
    height: float


class ImageOut(Wire):
    id: str
    created: datetime
    width: int
    height: int
    resized_image_uri: str
    thumbnail_uri: str
    original_image_uri: str
    tags: list[ImageTagOut] | None = None
    regions: list[ImageRegionOut] | None = None
    metadata: dict[str, str] | None = None


class ImageCreateResult(Wire):
    source_url: str | None = None
    status: str
    image: ImageOut | None = None


class ImageCreateSummary(Wire):
    is_batch_successful: bool
    images: list[ImageCreateResult]


class RegionIn(Wire):
    tag_id: str
    left: float
    top: float
    width: float
    height: float


class ImageFileCreateEntry(Wire):
    name: str | None = None
    contents: str | None = None  # base64; decoded by the handler so a bad entry gets its own status
    tag_ids: list[str] | None = None
    regions: list[RegionIn] | None = None


class ImageFileCreateBatch(Wire):
    images: list[ImageFileCreateEntry] = Field(default_factory=list)
    tag_ids: list[str] | None = None
    metadata: dict[str, str] | None = None


class ImageUrlCreateEntry(Wire):
    url: str
    tag_ids: list[str] | None = None
    regions: list[RegionIn] | None = None


class ImageUrlCreateBatch(Wire):
    images: list[ImageUrlCreateEntry] = Field(default_factory=list)
    tag_ids: list[str] | None = None
    metadata: dict[str, str] | None = None


class ImageTagCreateEntry(Wire):
    image_id: str
    tag_id: str


class ImageTagCreateBatch(Wire):
    tags: list[ImageTagCreateEntry] = Field(default_factory=list)


class ImageTagCreateSummary(Wire):
    created: list[ImageTagCreateEntry]
    duplicated: list[ImageTagCreateEntry]
    exceeded: list[ImageTagCreateEntry]


class ImageRegionCreateEntry(RegionIn):
    image_id: str


class ImageRegionCreateBatch(Wire):
    regions: list[ImageRegionCreateEntry] = Field(default_factory=list)


class ImageRegionCreateResult(ImageRegionCreateEntry):
    region_id: str
    tag_name: str
    created: datetime


class ImageRegionCreateSummary(Wire):
    created: list[ImageRegionCreateResult]
    duplicated: list[ImageRegionCreateEntry]
    exceeded: list[ImageRegionCreateEntry]


class ImageMetadataUpdateEntry(Wire):
    image_id: str
    status: str
    metadata: dict[str, str]


class ImageMetadataUpdateSummary(Wire):
    is_batch_successful: bool
    images: list[ImageMetadataUpdateEntry]


def dump(model: BaseModel | list[Any]) -> Any:
    """JSON-ready data with Azure's camelCase keys."""
    if isinstance(model, list):
        return [dump(m) for m in model]
    return model.model_dump(mode="json", by_alias=True)


# --- iterations and performance ----------------------------------------------------------------


class CustomBaseModelInfo(Wire):
    project_id: str
    iteration_id: str


class TrainingParameters(Wire):
    selected_tags: list[str] | None = None
    custom_base_model_info: CustomBaseModelInfo | None = None


class IterationOut(Wire):
    id: str
    name: str
    status: str
    created: datetime
    last_modified: datetime
    trained_at: datetime | None = None
    project_id: str
    exportable: bool
    exportable_to: list[str] | None = None
    domain_id: str | None = None
    classification_type: str | None = None
    training_type: str
    reserved_budget_in_hours: int
    training_time_in_minutes: int
    publish_name: str | None = None
    original_publish_resource_id: str | None = None
    training_error_details: str | None = None
    # Tagsight additions: live progress while status is Training.
    training_progress: float
    training_message: str


class IterationUpdate(Wire):
    name: str | None = None


class TagPerformance(Wire):
    id: str
    name: str
    precision: float
    precision_std_deviation: float
    recall: float
    recall_std_deviation: float
    average_precision: float


class IterationPerformance(Wire):
    per_tag_performance: list[TagPerformance]
    precision: float
    precision_std_deviation: float
    recall: float
    recall_std_deviation: float
    average_precision: float


class BoundingBox(Wire):
    left: float
    top: float
    width: float
    height: float


class PredictionOut(Wire):
    probability: float
    tag_id: str
    tag_name: str
    bounding_box: BoundingBox | None = None
    tag_type: str | None = None


class ImagePerformance(Wire):
    predictions: list[PredictionOut]
    id: str
    created: datetime
    width: int
    height: int
    image_uri: str
    thumbnail_uri: str
    tags: list[ImageTagOut]
    regions: list[ImageRegionOut] | None = None


class ImageUrl(Wire):
    url: str


class ImagePrediction(Wire):
    id: str
    project: str
    iteration: str
    created: datetime
    predictions: list[PredictionOut]


class StoredImagePrediction(ImagePrediction):
    resized_image_uri: str
    thumbnail_uri: str
    original_image_uri: str
    domain: str


class PredictionQueryTag(Wire):
    id: str | None = None
    min_threshold: float | None = None
    max_threshold: float | None = None


class PredictionQueryToken(Wire):
    session: str | None = None
    continuation: str | None = None
    max_count: int | None = None
    order_by: str | None = None
    tags: list[PredictionQueryTag] | None = None
    iteration_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    application: str | None = None


class PredictionQueryResult(Wire):
    token: PredictionQueryToken
    results: list[StoredImagePrediction]


class ImageIdCreateEntry(Wire):
    id: str
    tag_ids: list[str] | None = None
    regions: list[RegionIn] | None = None


class ImageIdCreateBatch(Wire):
    images: list[ImageIdCreateEntry] = Field(default_factory=list)
    tag_ids: list[str] | None = None
    metadata: dict[str, str] | None = None


class RegionProposal(Wire):
    confidence: float
    bounding_box: BoundingBox


class ImageRegionProposal(Wire):
    project_id: str
    image_id: str
    proposals: list[RegionProposal]


# --- exports -----------------------------------------------------------------------------------


class ExportOut(Wire):
    platform: str
    status: str
    download_uri: str | None = None
    flavor: str | None = None
    newer_version_available: bool = False
    # Tagsight addition: why a Failed export failed.
    export_error_details: str | None = None


# --- smart labeler ------------------------------------------------------------------------------


class SuggestedTagAndRegion(Wire):
    id: str
    project: str
    iteration: str
    created: datetime
    predictions: list[PredictionOut]
    prediction_uncertainty: float


class StoredSuggestedTagAndRegion(SuggestedTagAndRegion):
    width: int
    height: int
    resized_image_uri: str
    thumbnail_uri: str
    original_image_uri: str
    domain: str


class SuggestedTagAndRegionQueryToken(Wire):
    tag_ids: list[str] | None = None
    threshold: float | None = None
    session: str | None = None
    continuation: str | None = None
    max_count: int | None = None
    sort_by: str | None = None


class SuggestedTagAndRegionQuery(Wire):
    token: SuggestedTagAndRegionQueryToken
    results: list[StoredSuggestedTagAndRegion]


class TagFilter(Wire):
    tag_ids: list[str] | None = None
    threshold: float | None = None
