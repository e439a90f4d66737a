"""Tables (SQLAlchemy 2 declarative). Alembic migrations in ``migrations/`` own the schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no zone, and the API must say ``Z``."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
        list[dict[str, Any]]: JSON,
    }


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    domain_id: Mapped[str] = mapped_column(String(36))
    classification_type: Mapped[str | None] = mapped_column(String(16))
    target_export_platforms: Mapped[list[str]] = mapped_column(default=list)
    image_processing: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    export_model_container_uri: Mapped[str | None] = mapped_column(Text)
    notification_queue_uri: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="Succeeded")
    created: Mapped[datetime] = mapped_column(default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(default=utcnow)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("project_id", "name_key", name="uq_tags_project_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    # Azure treats tag names as case-insensitive for uniqueness.
    name_key: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(16), default="Regular")
    created: Mapped[datetime] = mapped_column(default=utcnow)


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("project_id", "content_hash", name="uq_images_project_hash"),
        Index("ix_images_project_created", "project_id", "created"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # sha256 of the original bytes: the blob key, shared by every project that holds the same file.
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(8))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created: Mapped[datetime] = mapped_column(default=utcnow)

    tags: Mapped[list[ImageTag]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True, order_by="ImageTag.created"
    )
    regions: Mapped[list[Region]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True, order_by="Region.created"
    )


class ImageTag(Base):
    """An image carries a tag. In detection projects a region implies its tag here too."""

    __tablename__ = "image_tags"

    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[str] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created: Mapped[datetime] = mapped_column(default=utcnow)

    tag: Mapped[Tag] = relationship(lazy="joined")


class Region(Base):
    """A box on an image, normalised to 0..1 of the oriented image."""

    __tablename__ = "regions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    tag_id: Mapped[str] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), index=True)
    left: Mapped[float] = mapped_column(Float)
    top: Mapped[float] = mapped_column(Float)
    width: Mapped[float] = mapped_column(Float)
    height: Mapped[float] = mapped_column(Float)
    created: Mapped[datetime] = mapped_column(default=utcnow)

    tag: Mapped[Tag] = relationship(lazy="joined")


class Iteration(Base):
    """A trained (or training) model of a project, with the snapshot it was trained on."""

    __tablename__ = "iterations"
    __table_args__ = (Index("ix_iterations_status_created", "status", "created"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))  # Training | Completed | Failed
    created: Mapped[datetime] = mapped_column(default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(default=utcnow)
    trained_at: Mapped[datetime | None] = mapped_column(default=None)
    domain_id: Mapped[str] = mapped_column(String(36))
    classification_type: Mapped[str | None] = mapped_column(String(16))
    training_type: Mapped[str] = mapped_column(String(16), default="Regular")
    reserved_budget_in_hours: Mapped[int] = mapped_column(Integer, default=0)
    training_time_in_minutes: Mapped[int] = mapped_column(Integer, default=0)
    publish_name: Mapped[str | None] = mapped_column(String(256), index=True)
    original_publish_resource_id: Mapped[str | None] = mapped_column(Text)
    training_error_details: Mapped[str | None] = mapped_column(Text)
    # Live training state, shown as trainingProgress / trainingMessage on the wire.
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_message: Mapped[str] = mapped_column(Text, default="")
    selected_tags: Mapped[list[str] | None] = mapped_column(default=None)
    # Identifies the labelled data trained on, to refuse retraining when nothing changed.
    fingerprint: Mapped[str] = mapped_column(String(64))
    backbone: Mapped[str] = mapped_column(String(64))
    model_key: Mapped[str | None] = mapped_column(String(256))
    # The worker that claimed the job; a restart finds orphans by this.
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    # How performance was measured (method, folds) and the model's label order.
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class IterationTag(Base):
    """A tag as it was when the iteration was trained."""

    __tablename__ = "iteration_tags"

    iteration_id: Mapped[str] = mapped_column(
        ForeignKey("iterations.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(16))
    image_count: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)  # output index in the model


class IterationImage(Base):
    """An image as it was labelled when the iteration was trained, and how the model scored it."""

    __tablename__ = "iteration_images"

    iteration_id: Mapped[str] = mapped_column(
        ForeignKey("iterations.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    image_created: Mapped[datetime] = mapped_column()
    tag_ids: Mapped[list[str]] = mapped_column(default=list)
    regions: Mapped[list[dict[str, Any]] | None] = mapped_column(default=None)  # detection boxes
    # Out-of-fold predictions: [{"tagId", "probability", "boundingBox"?}], None until evaluated.
    predictions: Mapped[list[dict[str, Any]] | None] = mapped_column(default=None)
    fold: Mapped[int | None] = mapped_column(Integer, default=None)


class StoredPrediction(Base):
    """A prediction kept for the project (Prediction API, or quick test with store=true)."""

    __tablename__ = "predictions"
    __table_args__ = (Index("ix_predictions_project_created", "project_id", "created"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    iteration_id: Mapped[str] = mapped_column(String(36), index=True)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    application: Mapped[str | None] = mapped_column(String(64))
    results: Mapped[list[dict[str, Any]]] = mapped_column(
        default=list
    )  # [{"tagId","tagName","probability",...}]


class Export(Base):
    """A model export of an iteration (Azure's export_iteration); the zip lives in the blob store."""

    __tablename__ = "exports"
    __table_args__ = (
        UniqueConstraint("iteration_id", "platform", "flavor", name="uq_exports_iteration_target"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    iteration_id: Mapped[str] = mapped_column(ForeignKey("iterations.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    # "" when the caller named no flavor: a unique key over NULLs would not stop duplicates.
    flavor: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(16))  # Exporting | Done | Failed
    blob_key: Mapped[str | None] = mapped_column(String(256), default=None)
    size_bytes: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    finished: Mapped[datetime | None] = mapped_column(default=None)


class Suggestion(Base):
    """Suggested tags or regions for one image by one iteration, cached: asking again is free."""

    __tablename__ = "suggestions"
    __table_args__ = (Index("ix_suggestions_iteration_uncertainty", "iteration_id", "uncertainty"),)

    iteration_id: Mapped[str] = mapped_column(
        ForeignKey("iterations.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    uncertainty: Mapped[float] = mapped_column(Float)
    predictions: Mapped[list[dict[str, Any]]] = mapped_column(default=list)  # as Azure's Prediction
    created: Mapped[datetime] = mapped_column(default=utcnow)
