"""Command line: ``tagsight serve``, ``keys``, ``migrate`` and ``suggest``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from tagsight import __version__
from tagsight.cli_datasets import add_dataset_commands
from tagsight.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    """Flags override ``TAGSIGHT_*`` variables, which override defaults."""
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "data_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


def _print_keys(settings: Settings, *, endpoint: str | None = None) -> None:
    from tagsight.api.app import effective_keys

    keys = effective_keys(settings)
    out = sys.stdout
    if endpoint:
        out.write(f"Endpoint:        {endpoint}\n")
    out.write(f"Training key:    {keys.training_key}\n")
    out.write(f"Prediction key:  {keys.prediction_key}\n")
    out.write(f"Data folder:     {settings.data_dir.resolve()}\n")
    out.flush()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from tagsight.api.app import create_app

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _print_keys(settings, endpoint=f"http://{settings.host}:{settings.port}")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from tagsight.store.keys import rotate_keys

    settings = _settings(args)
    if args.rotate:
        rotate_keys(settings.data_dir)
        sys.stdout.write("Keys rotated. Restart a running server to use them.\n")
    _print_keys(settings)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from tagsight.store.db import migrate

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)
    sys.stdout.write("Database is at the latest schema.\n")
    return 0


def cmd_suggest(args: argparse.Namespace) -> int:
    """Print the most uncertain untagged images of a project, with what its latest model suggests."""
    from rich.console import Console
    from rich.table import Table

    from tagsight.errors import TagsightError
    from tagsight.services.image_files import ImageFiles
    from tagsight.services.prediction import ModelCache
    from tagsight.services.suggestions import SuggestionService
    from tagsight.store.blobs import LocalBlobStore
    from tagsight.store.db import create_db_engine, create_session_factory, migrate

    settings = _settings(args)
    migrate(settings.resolved_database_url)
    db = create_session_factory(create_db_engine(settings.resolved_database_url))
    blobs = LocalBlobStore(settings.blob_dir)
    service = SuggestionService(db, ImageFiles(blobs, db), ModelCache(blobs))
    try:
        iteration, page = service.most_uncertain(args.project, take=args.take)
    except TagsightError as exc:
        sys.stderr.write(f"{exc.message}\n")
        return 1
    table = Table(
        title=f"{len(page.items)} of {page.total} untagged images, most uncertain first ({iteration.name})"
    )
    table.add_column("Uncertainty", justify="right")
    table.add_column("Image id", no_wrap=True)
    table.add_column("Suggestion")
    for view in page.items:
        found = view.suggestion.predictions[:3]
        text = ", ".join(f"{p['tagName']} {p['probability']:.0%}" for p in found) or "nothing found"
        table.add_row(f"{view.suggestion.uncertainty:.3f}", view.image.id, text)
    Console(width=120).print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tagsight", description="Self-hosted Custom Vision service.")
    parser.add_argument("--version", action="version", version=f"tagsight {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def data_dir_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", type=Path, help="data folder (default ./tagsight-data)")

    serve = sub.add_parser("serve", help="start the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 5000)")
    data_dir_flag(serve)
    serve.set_defaults(func=cmd_serve)

    keys = sub.add_parser("keys", help="show the training and prediction keys")
    keys.add_argument("--rotate", action="store_true", help="replace both keys")
    data_dir_flag(keys)
    keys.set_defaults(func=cmd_keys)

    mig = sub.add_parser("migrate", help="bring the database to the latest schema")
    data_dir_flag(mig)
    mig.set_defaults(func=cmd_migrate)

    suggest = sub.add_parser("suggest", help="list the untagged images the latest model is least sure of")
    suggest.add_argument("--project", required=True, help="project name or id")
    suggest.add_argument(
        "--take", type=int, default=10, choices=range(1, 1001), metavar="N", help="how many (10)"
    )
    data_dir_flag(suggest)
    suggest.set_defaults(func=cmd_suggest)
    add_dataset_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result: int = args.func(args)
    return result
