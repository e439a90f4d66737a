"""Job lifecycle in the database: claim, report progress, complete, fail, recover after a crash."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tagsight.store.db import transaction
from tagsight.store.repos import iterations as iteration_repo
from tagsight.store.tables import Iteration, utcnow

log = logging.getLogger(__name__)


def claim_next(db: sessionmaker[Session], worker_id: str) -> Iteration | None:
    with transaction(db) as session:
        iteration = iteration_repo.claim_next(session, worker_id=worker_id, now=utcnow())
        if iteration is not None:
            iteration.progress_message = "Starting"
            iteration.last_modified = utcnow()
        return iteration


def recover_orphans(db: sessionmaker[Session], worker_id: str) -> int:
    """Requeue iterations a previous process left in ``Training``: they start again from scratch."""
    with transaction(db) as session:
        orphans = iteration_repo.orphaned(session, worker_id=worker_id)
        for iteration in orphans:
            log.warning("Requeuing iteration %s left in Training by a previous run", iteration.id)
            iteration.claimed_by = None
            iteration.claimed_at = None
            iteration.progress = 0.0
            iteration.progress_message = "Restarted: the server stopped while this iteration was training."
            iteration.last_modified = utcnow()
        return len(orphans)


class ProgressReporter:
    """Writes progress to the iteration, at most every ``interval_s`` unless forced."""

    def __init__(self, db: sessionmaker[Session], iteration_id: str, interval_s: float = 0.5) -> None:
        self.db = db
        self.iteration_id = iteration_id
        self.interval_s = interval_s
        self._last = 0.0
        self._message = ""

    def __call__(self, fraction: float, message: str, *, force: bool = False) -> None:
        # Every new phase is written; repeated updates within one phase at most every interval_s.
        now = time.monotonic()
        same_phase = message.split(" ")[0] == self._message.split(" ")[0]
        if not force and same_phase and now - self._last < self.interval_s:
            return
        self._last, self._message = now, message
        with transaction(self.db) as session:
            iteration = session.get(Iteration, self.iteration_id)
            if iteration is not None and iteration.status == "Training":
                iteration.progress = max(0.0, min(1.0, fraction))
                iteration.progress_message = message
                iteration.last_modified = utcnow()


def complete(
    db: sessionmaker[Session],
    iteration_id: str,
    *,
    model_key: str,
    evaluation: dict[str, Any],
    predictions: dict[str, tuple[int, list[dict[str, Any]]]],
    seconds: float,
) -> bool:
    """Mark the iteration Completed with its model and per-image evaluation; False if it vanished."""
    with transaction(db) as session:
        iteration = session.get(Iteration, iteration_id)
        if iteration is None or iteration.status != "Training":
            return False
        for row in iteration_repo.images(session, iteration_id=iteration_id):
            if row.image_id in predictions:
                row.fold, row.predictions = predictions[row.image_id]
        now = utcnow()
        iteration.status = "Completed"
        iteration.model_key = model_key
        iteration.evaluation = evaluation
        iteration.trained_at = now
        iteration.last_modified = now
        iteration.training_time_in_minutes = max(1, round(seconds / 60)) if seconds >= 30 else 0
        iteration.progress = 1.0
        iteration.progress_message = "Completed"
        return True


def fail(db: sessionmaker[Session], iteration_id: str, reason: str) -> None:
    with transaction(db) as session:
        iteration = session.get(Iteration, iteration_id)
        if iteration is None or iteration.status != "Training":
            return
        iteration.status = "Failed"
        iteration.training_error_details = reason
        iteration.progress_message = "Failed"
        iteration.last_modified = utcnow()
