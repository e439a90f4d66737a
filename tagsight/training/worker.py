"""The background worker: one training job at a time, restart-safe.

Embedded mode: the server's lifespan starts one worker thread. A job is an iteration in
``Training``; the worker claims it in a transaction, runs it and writes the outcome. Whatever a
crash or restart leaves in ``Training`` is requeued when the next worker starts.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from tagsight.store.tables import Iteration
from tagsight.training import jobs
from tagsight.training.jobs import ProgressReporter

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """The worker is stopping; the job stays claimed and is requeued by the next start."""


class JobFailed(Exception):
    """A training failure to report to the user as ``trainingErrorDetails``."""


JobRunner = Callable[[Iteration, Callable[..., None]], None]


class TrainingWorker:
    def __init__(self, db: sessionmaker[Session], run_job: JobRunner, *, poll_s: float = 1.0) -> None:
        self.db = db
        self.run_job = run_job
        self.poll_s = poll_s
        self.worker_id = f"{uuid.uuid4()}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tagsight-training", daemon=True)

    def start(self) -> None:
        recovered = jobs.recover_orphans(self.db, self.worker_id)
        if recovered:
            log.info("Requeued %d iteration(s) interrupted by a restart", recovered)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wake(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                iteration = jobs.claim_next(self.db, self.worker_id)
            except Exception:  # a database hiccup must not kill the worker for good
                log.exception("Could not claim a training job")
                iteration = None
            if iteration is None:
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            self._run(iteration)

    def _run(self, iteration: Iteration) -> None:
        started = time.monotonic()
        reporter = ProgressReporter(self.db, iteration.id)

        def progress(fraction: float, message: str, *, force: bool = False) -> None:
            if self._stop.is_set():
                raise JobCancelled()
            reporter(fraction, message, force=force)

        log.info("Training iteration %s (%s)", iteration.id, iteration.training_type)
        try:
            self.run_job(iteration, progress)
        except JobCancelled:
            log.warning("Training of %s interrupted by shutdown; it will restart", iteration.id)
        except JobFailed as exc:
            jobs.fail(self.db, iteration.id, str(exc))
        except Exception as exc:
            log.exception("Training of iteration %s failed", iteration.id)
            jobs.fail(self.db, iteration.id, f"Training failed unexpectedly: {type(exc).__name__}: {exc}")
        else:
            log.info("Iteration %s trained in %.1f s", iteration.id, time.monotonic() - started)
