"""Fetching images from URLs without becoming a proxy into the user's network.

http(s) only, a size cap, a timeout, redirects followed by hand (each hop re-checked), and
private, loopback, link-local and other non-public addresses refused unless a setting allows them.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

_MAX_REDIRECTS = 3


class FetchError(Exception):
    """The URL could not be fetched; ``message`` says why in words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class UrlFetcher:
    max_bytes: int
    timeout_s: float
    allow_private: bool = False

    def fetch(self, url: str) -> bytes:
        """Return the body at ``url`` (following up to three redirects) or raise ``FetchError``."""
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False, trust_env=False) as client:
            for _ in range(_MAX_REDIRECTS + 1):
                self._check(url)
                try:
                    with client.stream("GET", url, headers={"Accept": "image/*"}) as response:
                        if response.is_redirect and "location" in response.headers:
                            url = urljoin(url, response.headers["location"])
                            continue
                        if response.status_code != 200:
                            raise FetchError(f"The URL answered HTTP {response.status_code}.")
                        return self._read_capped(response)
                except httpx.TimeoutException as exc:
                    raise FetchError(f"The URL did not answer within {self.timeout_s:g} s.") from exc
                except httpx.HTTPError as exc:
                    raise FetchError(f"The URL could not be fetched: {exc}.") from exc
        raise FetchError(f"The URL redirected more than {_MAX_REDIRECTS} times.")

    def _read_capped(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"The image is larger than {self.max_bytes} bytes.")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"The image is larger than {self.max_bytes} bytes.")
            chunks.append(chunk)
        return b"".join(chunks)

    def _check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError("Only http and https URLs with a host name can be fetched.")
        if self.allow_private:
            return
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, ValueError) as exc:
            raise FetchError(f"The host '{parts.hostname}' could not be resolved.") from exc
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global or address.is_multicast:
                raise FetchError(
                    f"The host '{parts.hostname}' resolves to a private or local address ({address}), "
                    "which this server does not fetch from (see TAGSIGHT_ALLOW_PRIVATE_URLS)."
                )
