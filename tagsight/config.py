"""Settings, read once from flags and ``TAGSIGHT_*`` environment variables.

Nothing else in Tagsight reads ``os.environ``: ``get_settings()`` is the way in, and tests build
``Settings(...)`` directly on a temporary folder.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Limits(BaseSettings):
    """Product limits. Defaults are Azure Custom Vision's S0 tier."""

    model_config = SettingsConfigDict(env_prefix="TAGSIGHT_LIMIT_", env_ignore_empty=True, extra="ignore")

    projects: int = 100
    tags_per_project: int = 500
    images_per_project: int = 100_000
    iterations_per_project: int = 20
    tags_per_image: int = 100
    regions_per_image: int = 200
    images_per_batch: int = 64
    tags_per_batch: int = 20
    image_tag_entries_per_batch: int = 128
    metadata_per_image: int = 10
    metadata_key_length: int = 128
    metadata_value_length: int = 256
    image_bytes: int = 6 * 1024 * 1024
    prediction_image_bytes: int = 4 * 1024 * 1024
    image_side: int = 10240
    project_name_length: int = 200
    description_length: int = 4000
    tag_name_length: int = 256


class Settings(BaseSettings):
    """Server settings; every field can be set as ``TAGSIGHT_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="TAGSIGHT_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = Field(default=5000, ge=0, le=65535)
    data_dir: Path = Path("./tagsight-data")
    # Default: SQLite in the data folder. Any SQLAlchemy URL works (PostgreSQL later).
    database_url: str | None = None
    # When unset, keys are generated on first start and kept in <data_dir>/keys.json.
    training_key: str | None = None
    prediction_key: str | None = None
    # URL uploads may not reach private, loopback or link-local addresses unless this is set
    # (server-side request forgery guard).
    allow_private_urls: bool = False
    url_fetch_timeout_s: float = 10.0
    # Lifetime of the signed links in ``originalImageUri`` / ``thumbnailUri``.
    signed_url_ttl_s: int = 24 * 3600
    log_level: str = "info"
    # Azure's training minimums, lower them for quick experiments.
    min_images_per_tag: int = Field(default=5, ge=1)
    min_images_per_tag_detection: int = Field(default=15, ge=1)
    # Detection training: input side (multiple of 32) and head epochs; smaller is faster.
    detection_input_size: int = Field(default=320, ge=128, le=1024, multiple_of=32)
    detection_epochs: int = Field(default=30, ge=1, le=500)
    # Advanced training runs for at most reservedBudgetInHours, and never longer than this.
    max_advanced_training_s: float = Field(default=24 * 3600.0, gt=0)
    # Run the training worker inside the server process (the embedded default).
    embedded_worker: bool = True
    limits: Limits = Field(default_factory=Limits)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tagsight.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"


@lru_cache
def get_settings() -> Settings:
    return Settings()
