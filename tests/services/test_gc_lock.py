"""The blob lock excludes other holders of the same lock file, as a second process would be."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tagsight.services.image_files import GcLock


def test_two_locks_on_one_file_take_turns_and_each_is_reentrant(tmp_path: Path) -> None:
    server, importer = GcLock(tmp_path / ".gc.lock"), GcLock(tmp_path / ".gc.lock")
    order: list[str] = []

    def import_images() -> None:
        with importer:
            order.append("import")

    with server, server:  # re-entrant within its holder
        thread = threading.Thread(target=import_images)
        thread.start()
        time.sleep(0.3)  # time enough for the importer to get in, were it not blocked
        order.append("delete")
    thread.join(timeout=10)
    assert order == ["delete", "import"]
    with server:  # free again once the other holder is done
        pass
