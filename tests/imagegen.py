"""Images that tests write themselves: hostile files and awkward but valid ones."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def jpeg(
    width: int = 320, height: int = 240, color: tuple[int, int, int] = (200, 30, 30), **save: object
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "JPEG", **save)
    return buf.getvalue()


def noise_jpeg(seed: int, width: int = 320, height: int = 240) -> bytes:
    """Distinct content per seed, so uploads are not duplicates of each other."""
    image = Image.effect_noise((width, height), 40 + seed % 50).convert("RGB")
    image.putpixel((seed % width, 0), (seed % 256, 7, 9))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def encoded(image: Image.Image, fmt: str, **save: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **save)
    return buf.getvalue()


def exif_rotated_jpeg(width: int = 40, height: int = 20, orientation: int = 6) -> bytes:
    image = Image.new("RGB", (width, height), (0, 0, 255))
    exif = Image.Exif()
    exif[274] = orientation
    return encoded(image, "JPEG", exif=exif.tobytes())


def cmyk_jpeg() -> bytes:
    return encoded(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG")


def png16() -> bytes:
    image = Image.new("I;16", (64, 48))
    image.putdata([i * 20 for i in range(64 * 48)])
    return encoded(image, "PNG")


def truncated_jpeg() -> bytes:
    data = jpeg(400, 300)
    return data[: len(data) // 2]


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims a huge canvas (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
