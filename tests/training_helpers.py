"""Waiting for training through the SDK, as the quickstarts do (with a way out)."""

from __future__ import annotations

import time
from typing import Any


def wait_for(trainer: Any, project_id: str, iteration_id: str, timeout: float = 600) -> Any:
    """Poll until the iteration leaves Training; fail the test if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        iteration = trainer.get_iteration(project_id, iteration_id)
        if iteration.status != "Training":
            return iteration
        time.sleep(0.3)
    raise AssertionError(f"iteration {iteration_id} still training after {timeout} s")
