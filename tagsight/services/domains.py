"""Azure's fixed domain catalogue (ids, names and types as Azure serves them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tagsight.errors import ErrorCode, NotFound
from tagsight.vision.exporters import find_exporter

CLASSIFICATION = "Classification"
OBJECT_DETECTION = "ObjectDetection"

# What a compact (exportable) domain can be exported to, as Azure lists it.
_COMPACT_PLATFORMS = ("CoreML", "TensorFlow", "DockerFile", "ONNX", "OpenVino")
# Detection trains its pyramid and head on a CPU in minutes with Lite0 at 320 px.
DETECTION_BACKBONE = "efficientnet_lite0"


@dataclass(frozen=True)
class Domain:
    id: str
    name: str
    type: str
    description: str
    exportable: bool = False
    enabled: bool = True
    exportable_platforms: tuple[str, ...] = field(default=())
    estimated_size_mb: int | None = None
    # The registry backbone this domain trains on (tagsight.vision.backbones); the one place to map.
    # Lite2 by default: on a CPU its features embed at ~50 images/s and classify best.
    backbone: str = "efficientnet_lite2"


def _compact(id: str, name: str, type: str, description: str, size_mb: int) -> Domain:
    # Compact domains are for devices: always the smallest backbone.
    return Domain(id, name, type, description, True, True, _COMPACT_PLATFORMS, size_mb, "efficientnet_lite0")


DOMAINS: tuple[Domain, ...] = (
    Domain(
        "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31",
        "General",
        CLASSIFICATION,
        "A broad range of image classification tasks.",
    ),
    Domain(
        "a8e3c40f-fb4a-466f-832a-5e457ae4a344",
        "General [A1]",
        CLASSIFICATION,
        "Better accuracy at a comparable inference time to General; for larger data sets.",
    ),
    Domain(
        "2e37d7fb-3a54-486a-b4d6-cfc369af0018",
        "General [A2]",
        CLASSIFICATION,
        "Better accuracy with faster inference than General [A1] and General.",
        backbone="efficientnet_lite1",
    ),
    Domain("c151d5b5-dd07-472a-acc8-15d29dea8518", "Food", CLASSIFICATION, "Photographs of dishes and food."),
    Domain(
        "ca455789-012d-4b50-9fec-5bb63841c793",
        "Landmarks",
        CLASSIFICATION,
        "Recognisable landmarks, both natural and artificial.",
    ),
    Domain(
        "b30a91ae-e3c1-4f73-a81e-c270bff27c39",
        "Retail",
        CLASSIFICATION,
        "Images from a shopping catalogue or website.",
    ),
    _compact(
        "0732100f-1a38-4e49-a514-c9b44c697ab5",
        "General (compact)",
        CLASSIFICATION,
        "Exportable model for real-time classification on edge devices.",
        6,
    ),
    _compact(
        "a1db07ca-a19a-4830-bae8-e004a42dc863",
        "General (compact) [S1]",
        CLASSIFICATION,
        "Exportable model for real-time classification on edge devices.",
        6,
    ),
    _compact(
        "8882951b-82cd-4c32-970b-d5f8cb8bf6d7",
        "Food (compact)",
        CLASSIFICATION,
        "Exportable model for photographs of dishes.",
        6,
    ),
    _compact(
        "b5cfd229-2ac7-4b2b-8d0a-2b0661344894",
        "Landmarks (compact)",
        CLASSIFICATION,
        "Exportable model for landmarks.",
        6,
    ),
    _compact(
        "6b4faeda-8396-481b-9f8b-177b9fa3097f",
        "Retail (compact)",
        CLASSIFICATION,
        "Exportable model for retail images.",
        6,
    ),
    Domain(
        "da2e3a8a-40a5-4171-82f4-58522f70fbc1",
        "General",
        OBJECT_DETECTION,
        "A broad range of object detection tasks.",
        backbone=DETECTION_BACKBONE,
    ),
    Domain(
        "9c616dff-2e7d-ea11-af59-1866da359ce6",
        "General [A1]",
        OBJECT_DETECTION,
        "Better accuracy at a comparable inference time to General.",
        backbone="efficientnet_lite1",
    ),
    Domain(
        "1d8ffafe-ec40-4fb2-8f90-72b3b6cecea4",
        "Logo",
        OBJECT_DETECTION,
        "Finding brand logos in images.",
        backbone=DETECTION_BACKBONE,
    ),
    Domain(
        "3780a898-81c3-4516-81ae-3a139614e1f3",
        "Products on Shelves",
        OBJECT_DETECTION,
        "Detecting and classifying products on shelves.",
        backbone=DETECTION_BACKBONE,
    ),
    _compact(
        "a27d5ca5-bb19-49d8-a70a-fec086c47f5b",
        "General (compact)",
        OBJECT_DETECTION,
        "Exportable model for real-time detection on edge devices.",
        8,
    ),
    _compact(
        "7ec2ac80-887b-48a6-8df9-8b1357765430",
        "General (compact) [S1]",
        OBJECT_DETECTION,
        "Exportable model for real-time detection on edge devices.",
        8,
    ),
)

_BY_ID = {d.id: d for d in DOMAINS}

DEFAULT_CLASSIFICATION_DOMAIN = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"
DEFAULT_DETECTION_DOMAIN = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"  # General (object detection)


def list_domains() -> list[Domain]:
    return list(DOMAINS)


def find_domain(domain_id: str) -> Domain | None:
    return _BY_ID.get(domain_id.lower())


def get_domain(domain_id: str) -> Domain:
    domain = find_domain(domain_id)
    if domain is None:
        raise NotFound(ErrorCode.NotFoundDomain, f"Domain {domain_id} not found.")
    return domain


def backbone_for_domain(domain_id: str) -> str:
    return get_domain(domain_id).backbone


def export_platforms(domain: Domain) -> list[str]:
    """The domain's export platforms that this server can produce (converters installed).

    ``exportable_platforms`` is Azure's list for the domain (what a project may target); this is
    what ``exportablePlatforms`` and an iteration's ``exportableTo`` report.
    """
    return [p for p in domain.exportable_platforms if not find_exporter(p, None).missing()]
