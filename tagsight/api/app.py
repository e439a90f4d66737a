"""The FastAPI application: routers under every Azure API version, errors, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tagsight import __version__
from tagsight.api import datasets, export_files, image_links
from tagsight.api.azure import (
    prediction,
    training_exports,
    training_images,
    training_iterations,
    training_projects,
    training_suggestions,
)
from tagsight.api.deps import Services
from tagsight.api.errors import install_error_handlers
from tagsight.api.paths import NormalisePathMiddleware
from tagsight.api.portal import routes as portal
from tagsight.config import Settings
from tagsight.services.artifacts import ArtifactService
from tagsight.services.datasets import DatasetService
from tagsight.services.exports import ExportService
from tagsight.services.image_files import ImageFiles
from tagsight.services.images import ImageService
from tagsight.services.iterations import IterationService
from tagsight.services.labels import LabelService
from tagsight.services.links import LinkSigner
from tagsight.services.prediction import ModelCache, PredictionService, StoredPredictionService
from tagsight.services.project_copy import ImportTokens, ProjectCopyService
from tagsight.services.projects import ProjectService
from tagsight.services.proposals import ProposalService
from tagsight.services.suggestions import SuggestionService
from tagsight.services.tags import TagService
from tagsight.services.training import TrainingRules, TrainingService
from tagsight.services.uploads import UploadService
from tagsight.services.url_fetch import UrlFetcher
from tagsight.store.blobs import LocalBlobStore
from tagsight.store.db import create_db_engine, create_session_factory, migrate
from tagsight.store.feature_cache import BlobFeatureCache
from tagsight.store.keys import Keys, load_or_create_keys
from tagsight.training.runner import TrainingRunner
from tagsight.training.worker import TrainingWorker
from tagsight.vision.train_detector import DetectorTrainConfig

log = logging.getLogger(__name__)

TRAINING_VERSIONS = ("v3.0", "v3.1", "v3.2", "v3.3", "v3.4-preview")
PREDICTION_VERSIONS = ("v3.0", "v3.1")


def effective_keys(settings: Settings) -> Keys:
    """Keys from the data folder, with any key given in the settings taking precedence."""
    stored, _ = load_or_create_keys(settings.data_dir)
    return Keys(
        training_key=settings.training_key or stored.training_key,
        prediction_key=settings.prediction_key or stored.prediction_key,
        signing_secret=stored.signing_secret,
    )


def build_services(settings: Settings) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    migrate(url)
    db = create_session_factory(create_db_engine(url))
    keys = effective_keys(settings)
    limits = settings.limits
    blobs = LocalBlobStore(settings.blob_dir)
    # The same lock file as `tagsight dataset import`, which may run beside the server.
    files = ImageFiles(blobs, db, lock_path=settings.data_dir / "blobs.lock")
    files.sweep()
    rules = TrainingRules(
        min_images_per_tag=settings.min_images_per_tag,
        min_images_per_tag_detection=settings.min_images_per_tag_detection,
    )
    models = ModelCache(blobs)
    predictions = PredictionService(db, files, models, limits)
    detection = DetectorTrainConfig(
        input_size=settings.detection_input_size, epochs=settings.detection_epochs
    )
    return Services(
        settings=settings,
        keys=keys,
        signer=LinkSigner(keys.signing_secret, settings.signed_url_ttl_s),
        fetcher=UrlFetcher(
            max_bytes=limits.image_bytes,
            timeout_s=settings.url_fetch_timeout_s,
            allow_private=settings.allow_private_urls,
        ),
        files=files,
        projects=ProjectService(db, limits, files),
        tags=TagService(db, limits),
        images=ImageService(db, files),
        uploads=UploadService(db, files, limits),
        labels=LabelService(db, limits),
        training=TrainingService(db, limits, rules),
        iterations=IterationService(db, blobs),
        predictions=predictions,
        stored_predictions=StoredPredictionService(db, files),
        proposals=ProposalService(db, files, predictions, BlobFeatureCache(blobs)),
        suggestions=SuggestionService(db, files, models),
        artifacts=ArtifactService(db, blobs),
        datasets=DatasetService(db, files, limits),
        project_copy=ProjectCopyService(db, files, limits, ImportTokens(keys.signing_secret)),
        worker=TrainingWorker(
            db,
            TrainingRunner(db, blobs, detection=detection, max_advanced_s=settings.max_advanced_training_s),
        ),
        exports=ExportService(db, blobs),
    )


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings)
        app.state.services = services
        if settings.embedded_worker:
            services.worker.start()
        services.exports.start()
        try:
            yield
        finally:
            services.exports.stop()
            services.worker.stop()

    app = FastAPI(title="Tagsight", version=__version__, lifespan=lifespan)
    install_error_handlers(app)
    for version in TRAINING_VERSIONS:
        prefix = f"/customvision/{version}/training"
        # One OpenAPI entry per operation: the newest version documents them all.
        documented = version == TRAINING_VERSIONS[-1]
        app.include_router(training_projects.router, prefix=prefix, include_in_schema=documented)
        app.include_router(training_images.router, prefix=prefix, include_in_schema=documented)
        app.include_router(training_iterations.router, prefix=prefix, include_in_schema=documented)
        app.include_router(training_suggestions.router, prefix=prefix, include_in_schema=documented)
        app.include_router(training_exports.router, prefix=prefix, include_in_schema=documented)
    for version in PREDICTION_VERSIONS:
        app.include_router(
            prediction.router,
            prefix=f"/customvision/{version}/prediction",
            include_in_schema=version == PREDICTION_VERSIONS[-1],
        )
    app.include_router(image_links.router)
    app.include_router(datasets.router)
    app.include_router(export_files.router)
    app.include_router(portal.router)
    app.mount(portal.STATIC_PREFIX, portal.static_files(), name="portal")
    app.add_middleware(NormalisePathMiddleware)
    return app
