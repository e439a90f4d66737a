"""Reading image bytes out of request bodies, exactly as sent.

The official SDK sends ``imageData`` as a file part (open file, ``BytesIO``) or as a plain form
field with no filename and no Content-Type (raw ``bytes``). Starlette's form parser would decode
the latter as text, so parts are read raw here with python-multipart. A bare
``application/octet-stream`` body (which Azure also accepts) is one image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from tagsight.errors import BadRequest, ErrorCode, PayloadTooLarge, UnsupportedMediaType


@dataclass
class Part:
    name: str | None = None
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


class _PartCollector:
    def __init__(self) -> None:
        self.parts: list[Part] = []
        self._header_field = bytearray()
        self._header_value = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": lambda: self.parts.append(Part()),
            "on_part_data": lambda d, s, e: self.parts[-1].data.extend(d[s:e]),
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._on_header_end,
        }

    def _on_header_end(self) -> None:
        if self._header_field.decode("latin-1").lower() == "content-disposition":
            _, options = parse_options_header(bytes(self._header_value))
            if b"name" in options:
                self.parts[-1].name = options[b"name"].decode("utf-8", "replace")
            if b"filename" in options:
                self.parts[-1].filename = options[b"filename"].decode("utf-8", "replace")
        self._header_field.clear()
        self._header_value.clear()


async def read_image_parts(request: Request, *, max_bytes: int) -> list[Part]:
    """All parts of a multipart body (or the single image of an octet-stream body)."""
    content_type, options = parse_options_header(request.headers.get("content-type"))
    if content_type in (
        b"application/octet-stream",
        b"image/jpeg",
        b"image/png",
        b"image/bmp",
        b"image/gif",
        b"image/webp",
    ):
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > max_bytes:
                raise PayloadTooLarge(ErrorCode.BadRequestImageSizeBytes, "The request body is too large.")
        return [Part("imageData", None, body)]
    if content_type != b"multipart/form-data" or b"boundary" not in options:
        raise UnsupportedMediaType(
            ErrorCode.UnsupportedMediaType,
            "Send images as multipart/form-data (field 'imageData') or application/octet-stream.",
        )
    collector = _PartCollector()
    parser = MultipartParser(options[b"boundary"], collector.callbacks(), max_size=max_bytes)  # type: ignore[arg-type]
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(ErrorCode.BadRequestImageSizeBytes, "The request body is too large.")
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise BadRequest(ErrorCode.BadRequestImageStream, f"The multipart body is malformed: {exc}.") from exc
    return [p for p in collector.parts if p.name is not None or p.data]
