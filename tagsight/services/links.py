"""Signed, expiring links to image files, so a browser or client can GET them without a key.

Azure hands out storage URLs with a SAS signature; these play the same part.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import urlencode

IMAGE_KINDS = ("original", "thumbnail")


@dataclass(frozen=True)
class LinkSigner:
    secret: str
    ttl_s: int

    def _mac(self, path: str, expires: int) -> str:
        message = f"{path}\n{expires}".encode()
        return hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()[:32]

    def sign(self, path: str, *, now: float | None = None) -> str:
        """``path`` plus the query that proves it was issued by this server."""
        # Expiry rounded to the hour so that a listing twice in a row gives the same links
        # (browsers can cache the thumbnails).
        issued = int(now if now is not None else time.time())
        expires = (issued // 3600 + 1) * 3600 + self.ttl_s
        return f"{path}?{urlencode({'se': expires, 'sig': self._mac(path, expires)})}"

    def verify(self, path: str, expires: int, signature: str, *, now: float | None = None) -> bool:
        if expires < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(self._mac(path, expires), signature)


def image_path(kind: str, content_hash: str) -> str:
    return f"/tagsight/images/{kind}/{content_hash}"
