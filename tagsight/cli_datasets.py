"""``tagsight dataset import`` and ``tagsight dataset export``.

The commands work on the data folder directly, through the same services as the server (no
server or key needed, and none is contacted): the database is SQLite in WAL mode, so a running
``tagsight serve`` on the same folder keeps answering meanwhile and sees the new project at once.
Both processes take the same lock file around blob writes and deletes (``ImageFiles``). Unlike the
server, the command does not sweep unreferenced blobs on start: the server may hold an upload in
flight whose blobs are written but whose rows are not committed yet.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tagsight.config import Settings
from tagsight.datasets import FORMATS, Skipped
from tagsight.errors import TagsightError

if TYPE_CHECKING:
    # The services pull in SQLAlchemy and numpy: imported when a dataset command runs, not for --help.
    from tagsight.services.datasets import DatasetService
    from tagsight.services.datasets import Progress as ProgressCallback

__all__ = ["add_dataset_commands"]


def _service(settings: Settings) -> DatasetService:
    # Alembic logs its plugins on import and each migration step: INFO lines that bury the summary.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from tagsight.services.datasets import DatasetService
    from tagsight.services.image_files import ImageFiles
    from tagsight.store.blobs import LocalBlobStore
    from tagsight.store.db import create_db_engine, create_session_factory, migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)
    db = create_session_factory(create_db_engine(settings.resolved_database_url))
    # The server's lock file: uploads here and its deletes must not interleave (see ImageFiles).
    files = ImageFiles(LocalBlobStore(settings.blob_dir), db, lock_path=settings.data_dir / "blobs.lock")
    return DatasetService(db, files, settings.limits)


@contextmanager
def _progress(console: Console, what: str) -> Iterator[ProgressCallback]:
    columns = (TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    bar = Progress(*columns, console=console, transient=False)
    task = bar.add_task(what, total=None)

    def update(done: int, total: int) -> None:
        # Shown from the first report on, so a request refused up front prints no empty bar.
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if bar.live.is_started:
            bar.stop()


def _print_skipped(out: Console, skipped: list[Skipped]) -> None:
    if not skipped:
        return
    out.print(f"Skipped ({len(skipped)}):")
    for entry in skipped:
        out.print(f"  {entry.item}: {entry.reason}", markup=False, highlight=False)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}{'es' if word.endswith('x') else 's'}"


def _consoles() -> tuple[Console, Console]:
    """Results on stdout, unwrapped so that they can be piped; the progress bar on stderr."""
    return Console(highlight=False, soft_wrap=True), Console(stderr=True)


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(data_dir=args.data_dir) if args.data_dir else Settings()


def cmd_dataset_import(args: argparse.Namespace) -> int:
    out, err = _consoles()
    service = _service(_settings(args))
    fmt = service.format(args.format)
    dataset = service.read(fmt, args.path)
    with _progress(err, "Uploading") as progress:
        summary = service.import_dataset(
            dataset, project_name=args.project, boxes_only=fmt.boxes_only, progress=progress
        )
    verb = "Created" if summary.project_created else "Filled"
    out.print(f"{verb} project '{summary.project_name}' ({summary.project_id})", markup=False)
    out.print(f"Images added: {summary.images_added}")
    out.print(f"Regions added: {summary.regions_added}")
    created = ", ".join(summary.tags_created) or "none"
    out.print(f"Tags created: {len(summary.tags_created)} ({created})", markup=False)
    _print_skipped(out, summary.skipped)
    return 0


def cmd_dataset_export(args: argparse.Namespace) -> int:
    out, err = _consoles()
    service = _service(_settings(args))
    fmt = service.format(args.format)
    project = service.find_project(args.project)
    with _progress(err, "Writing") as progress:
        summary = service.export_dataset(project.id, fmt, args.out, progress=progress)
    counts = ", ".join(
        _plural(n, word)
        for n, word in ((summary.images, "image"), (summary.boxes, "box"), (summary.tags, "tag"))
    )
    out.print(f"Wrote {counts} to {args.out}", markup=False)
    if summary.untagged_left_out:
        out.print(f"Left out {summary.untagged_left_out} untagged images.")
    _print_skipped(out, summary.skipped)
    return 0


Command = Callable[[argparse.Namespace], int]


def _run(func: Command) -> Command:
    """Errors the user can fix are one line on stderr and exit status 2, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except TagsightError as exc:
            sys.stderr.write(f"tagsight: {exc.message}\n")
            return 2

    return run


def add_dataset_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dataset import`` and ``dataset export`` under the main parser's subcommands."""
    dataset = sub.add_parser("dataset", help="import or export labelled datasets")
    commands = dataset.add_subparsers(dest="dataset_command", required=True)
    names = sorted(FORMATS)

    imp = commands.add_parser("import", help="create or fill a project from a dataset")
    imp.add_argument("--format", required=True, choices=names, help="the dataset's format")
    imp.add_argument("path", type=Path, help="dataset folder or annotation file")
    imp.add_argument("--project", required=True, help="project name (created when missing)")
    imp.add_argument("--data-dir", type=Path, help="data folder (default ./tagsight-data)")
    imp.set_defaults(func=_run(cmd_dataset_import))

    exp = commands.add_parser("export", help="write a project's labelled images as a dataset")
    exp.add_argument("--format", required=True, choices=names, help="the dataset format to write")
    exp.add_argument("--project", required=True, help="project name")
    exp.add_argument("out", type=Path, help="output folder (new or empty)")
    exp.add_argument("--data-dir", type=Path, help="data folder (default ./tagsight-data)")
    exp.set_defaults(func=_run(cmd_dataset_export))
