"""Labelled-data formats: reading and writing datasets (Pascal VOC, COCO, YOLO, folders)."""
