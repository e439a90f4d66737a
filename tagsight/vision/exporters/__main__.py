"""Child-process entry: ``python -m tagsight.vision.exporters OUT.zip`` with the request as JSON on stdin."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

from tagsight.vision.exporters import _FAILURE, ExportError, ExportRequest, export


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    request = ExportRequest.from_json(sys.stdin.read())
    try:
        export(request, Path(sys.argv[1]))
    except ExportError as exc:
        print(_FAILURE + str(exc), file=sys.stderr)  # noqa: T201 - the parent reads this line
        return 2
    except Exception as exc:
        traceback.print_exc()
        summary = f"{type(exc).__name__}: {exc}".splitlines()[0][:400]
        print(f"{_FAILURE}The {request.platform} conversion failed: {summary}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
