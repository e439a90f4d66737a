"""Persistence: tables, query functions, migrations and the image blob store."""
