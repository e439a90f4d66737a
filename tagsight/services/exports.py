"""Model exports (Azure's export_iteration / get_exports): the rules, and a small background executor.

An export is a row per (iteration, platform, flavor) that moves Exporting → Done | Failed. The
conversion runs on one background thread, which starts a child Python per export
(``vision.exporters.export_in_subprocess``), so a converter's memory or crash never reaches the
server. Exports are restart-safe: whatever a stop leaves in Exporting is converted again at the
next start. The zip lives in the blob store under ``exports/``; ``downloadUri`` is a signed link.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tagsight.errors import BadRequest, ErrorCode, NotFound
from tagsight.services import domains
from tagsight.services.iterations import require_iteration
from tagsight.services.projects import require_project
from tagsight.store.blobs import BlobStore
from tagsight.store.db import transaction
from tagsight.store.repos import exports as export_repo
from tagsight.store.repos import iterations as iteration_repo
from tagsight.store.tables import Export, Iteration, utcnow
from tagsight.vision.exporters import (
    ExportCancelled,
    ExportError,
    ExportRequest,
    UnknownTargetError,
    export_in_subprocess,
    find_exporter,
)

log = logging.getLogger(__name__)

EXPORTING, DONE, FAILED = "Exporting", "Done", "Failed"
BLOB_PREFIX = "exports/"


def export_path(export_id: str) -> str:
    """The URL path a signed ``downloadUri`` points at."""
    return f"/tagsight/exports/{export_id}"


def download_name(export: Export, iteration: Iteration) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in iteration.name)
    return f"{safe}-{export.platform}{'-' + export.flavor if export.flavor else ''}.zip"


class ExportService:
    def __init__(self, db: sessionmaker[Session], blobs: BlobStore, *, timeout_s: float = 1800.0) -> None:
        self.db = db
        self.blobs = blobs
        self.timeout_s = timeout_s
        # One conversion at a time: converters use every core and a few hundred MB each.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagsight-export")
        self._stopping = threading.Event()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Redo exports a previous process left in Exporting, and drop zips nothing refers to."""
        with self.db() as session:
            pending = [e.id for e in export_repo.in_status(session, status=EXPORTING)]
            referenced = export_repo.blob_keys(session)
        for key in list(self.blobs.keys(BLOB_PREFIX)):
            if key not in referenced:
                self.blobs.delete(key)
        for export_id in pending:
            log.warning("Export %s was interrupted by a restart; converting again", export_id)
            self._executor.submit(self._run, export_id)

    def stop(self) -> None:
        # A conversion in flight is stopped (its row stays Exporting and is redone at start).
        self._stopping.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- the API ------------------------------------------------------------------------------------

    def export(self, project_id: str, iteration_id: str, platform: str, flavor: str | None) -> Export:
        """Start exporting (Azure's export_iteration); the row comes back in status Exporting."""
        try:
            with transaction(self.db) as session:
                require_project(session, project_id)
                iteration = require_iteration(session, project_id, iteration_id)
                try:
                    exporter = find_exporter(platform, flavor or None)
                except UnknownTargetError as exc:
                    raise BadRequest(ErrorCode.BadRequestExportValidationFailed, str(exc)) from exc
                self._check_exportable(iteration, platform)
                missing = exporter.missing()
                if missing:
                    hint = f"pip install 'tagsight[{exporter.extra}]'" if exporter.extra else "install them"
                    raise BadRequest(
                        ErrorCode.BadRequestNotSupported,
                        f"This server cannot export to {platform}: {', '.join(missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} not installed ({hint}).",
                    )
                row = export_repo.find(
                    session, iteration_id=iteration_id, platform=platform, flavor=flavor or ""
                )
                if row is not None and row.status == EXPORTING:
                    raise _in_progress(platform, flavor)
                if row is None:
                    row = Export(
                        id=str(uuid.uuid4()),
                        iteration_id=iteration_id,
                        platform=platform,
                        flavor=flavor or "",
                        status=EXPORTING,
                    )
                    session.add(row)
                else:
                    # Exporting again replaces the zip when the new one is ready.
                    row.status, row.error, row.created, row.finished = EXPORTING, None, utcnow(), None
        except IntegrityError as exc:  # another request created the same export a moment ago
            raise _in_progress(platform, flavor) from exc
        self._executor.submit(self._run, row.id)
        return row

    def list(self, project_id: str, iteration_id: str) -> list[Export]:
        with self.db() as session:
            require_project(session, project_id)
            require_iteration(session, project_id, iteration_id)
            return export_repo.list_for_iteration(session, iteration_id=iteration_id)

    def download(self, export_id: str) -> tuple[bytes, str]:
        """The zip of a finished export and the file name to offer it under."""
        with self.db() as session:
            row = export_repo.get(session, export_id=export_id)
            iteration = session.get(Iteration, row.iteration_id) if row is not None else None
        if row is None or iteration is None or row.status != DONE or row.blob_key is None:
            raise NotFound(ErrorCode.NotFound, "No finished export with this id.")
        try:
            return self.blobs.get(row.blob_key), download_name(row, iteration)
        except FileNotFoundError as exc:
            raise NotFound(ErrorCode.NotFound, "The export's file is gone; export again.") from exc

    # --- rules ------------------------------------------------------------------------------------

    @staticmethod
    def _check_exportable(iteration: Iteration, platform: str) -> None:
        if iteration.status == "Training":
            raise BadRequest(
                ErrorCode.BadRequestExportWhileTraining,
                f"Iteration '{iteration.name}' is still training; export it once it has Completed.",
            )
        if iteration.status != "Completed" or iteration.model_key is None:
            raise BadRequest(
                ErrorCode.BadRequestIterationIsNotTrained,
                f"Iteration '{iteration.name}' is {iteration.status}, not Completed: no model to export.",
            )
        domain = domains.get_domain(iteration.domain_id)
        if not domain.exportable:
            raise BadRequest(
                ErrorCode.BadRequestExportValidationFailed,
                f"Iteration '{iteration.name}' was trained on domain '{domain.name}', which is not "
                "exportable; train on a compact domain to export models.",
            )
        if platform not in domain.exportable_platforms:
            raise BadRequest(
                ErrorCode.BadRequestExportValidationFailed,
                f"Domain '{domain.name}' cannot be exported to {platform}.",
            )

    # --- the background job -----------------------------------------------------------------------

    def _run(self, export_id: str) -> None:
        if self._stopping.is_set():
            return
        with self.db() as session:
            row = export_repo.get(session, export_id=export_id)
            if row is None or row.status != EXPORTING:
                return
            iteration = session.get(Iteration, row.iteration_id)
            tags = iteration_repo.tags(session, iteration_id=row.iteration_id) if iteration else []
        if iteration is None or iteration.model_key is None:
            return
        log.info("Exporting iteration %s to %s %s", iteration.id, row.platform, row.flavor or "")
        try:
            with tempfile.TemporaryDirectory(prefix="tagsight-export-") as tmp:
                model = Path(tmp) / "model.onnx"
                model.write_bytes(self.blobs.get(iteration.model_key))
                request = ExportRequest(
                    model=model,
                    tags=tuple({"id": t.tag_id, "name": t.name, "type": t.type} for t in tags),
                    platform=row.platform,
                    flavor=row.flavor or None,
                    project_id=iteration.project_id,
                    iteration_id=iteration.id,
                    iteration_name=iteration.name,
                )
                out = Path(tmp) / "export.zip"
                export_in_subprocess(request, out, timeout_s=self.timeout_s, cancel=self._stopping)
                data = out.read_bytes()
        except ExportCancelled:
            return  # the server is stopping; the row stays Exporting and is redone at the next start
        except ExportError as exc:
            self._finish(export_id, error=str(exc))
            return
        except Exception as exc:  # the export must end Failed, never stay Exporting
            log.exception("Export %s failed", export_id)
            self._finish(export_id, error=f"The export failed unexpectedly: {type(exc).__name__}.")
            return
        if self._stopping.is_set():
            return
        key = f"{BLOB_PREFIX}{iteration.id}/{uuid.uuid4().hex}.zip"
        self.blobs.put(key, data)
        self._finish(export_id, key=key, size=len(data))

    def _finish(
        self, export_id: str, *, key: str | None = None, size: int | None = None, error: str | None = None
    ) -> None:
        replaced = None
        with transaction(self.db) as session:
            row = export_repo.get(session, export_id=export_id)
            if row is None or row.status != EXPORTING:  # the iteration was deleted meanwhile
                replaced = key
            elif key is not None:
                replaced = row.blob_key
                row.status, row.blob_key, row.size_bytes, row.error = DONE, key, size, None
                row.finished = utcnow()
            else:
                row.status, row.error, row.finished = FAILED, error, utcnow()
                log.warning("Export %s failed: %s", export_id, error)
        if replaced:
            self.blobs.delete(replaced)


def _in_progress(platform: str, flavor: str | None) -> BadRequest:
    target = f"{platform}{' ' + flavor if flavor else ''}"
    return BadRequest(
        ErrorCode.BadRequestExportAlreadyInProgress,
        f"An export to {target} of this iteration is in progress.",
    )
