"""Tagsight: a self-hosted, Azure Custom Vision compatible service."""

__version__ = "0.1.0"
