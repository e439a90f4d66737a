"""Where ../shared/data is: next to the checkout, named by TAGSIGHT_SHARED_DATA, or /work/shared/data."""

from __future__ import annotations

import os
from pathlib import Path


def find_shared_data() -> Path | None:
    if os.environ.get("TAGSIGHT_SHARED_DATA"):
        return Path(os.environ["TAGSIGHT_SHARED_DATA"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data"
        if (candidate / "hymenoptera").is_dir():
            return candidate
    # A fresh clone elsewhere (e.g. /tmp) still finds the workplace's copy.
    fallback = Path("/work/shared/data")
    return fallback if fallback.is_dir() else None


SHARED_DATA = find_shared_data()
