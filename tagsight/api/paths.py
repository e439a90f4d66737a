"""ASGI middleware that makes paths look the way the routers expect.

The SDK doubles the slash after an endpoint that ends in ``/``, and Azure's samples spell fixed
segments in either case (``Training``, ``training``). Only the fixed words are lower-cased, so
ids and publish names keep their case.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

_SLASHES = re.compile(r"/{2,}")
FIXED_SEGMENTS = frozenset(
    """customvision training prediction domains projects images tags iterations performance publish
    export import train quicktest image url nostore classify detect predictions query files urls
    regions regionproposals tagged untagged count id metadata suggested tagsandregions suggestions
    artifacts v3.0 v3.1 v3.2 v3.3 v3.4-preview""".split()
)


def normalise_path(path: str) -> str:
    path = _SLASHES.sub("/", path)
    segments = path.split("/")
    return "/".join(s.lower() if s.lower() in FIXED_SEGMENTS else s for s in segments)


class NormalisePathMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope["path"] if scope["type"] == "http" else ""
        if raw.lower().startswith("/customvision") or "//" in raw:
            path = normalise_path(scope["path"])
            if path != scope["path"]:
                scope = dict(scope, path=path, raw_path=path.encode())
        await self.app(scope, receive, send)
