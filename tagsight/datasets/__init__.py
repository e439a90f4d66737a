"""Labelled-data formats: reading and writing datasets (COCO, Pascal VOC, YOLO, folders, CSV).

Pure format code: files in, ``Dataset`` out, and back. Nothing here knows the database or HTTP;
``tagsight.services.datasets`` brings datasets into projects and takes them out again.
"""

from tagsight.datasets.archive import extract_zip, zip_folder
from tagsight.datasets.dataset import Box, Dataset, DatasetError, ExportItem, ImportItem, Skipped
from tagsight.datasets.formats import FORMATS, DatasetFormat, get_format

__all__ = [
    "FORMATS",
    "Box",
    "Dataset",
    "DatasetError",
    "DatasetFormat",
    "ExportItem",
    "ImportItem",
    "Skipped",
    "extract_zip",
    "get_format",
    "zip_folder",
]
