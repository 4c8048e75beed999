"""A bar chart as a real PNG file, written with zlib and struct (no plotting library), so the
code interpreter's generated image is a file any viewer or decoder opens."""

from __future__ import annotations

import struct
import zlib

WIDTH = 480
HEIGHT = 320
SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MARGIN = 24
_BACKGROUND = (255, 255, 255)
_AXIS = (64, 64, 64)
_BARS = ((31, 119, 180), (255, 127, 14))  # matplotlib's first two colours, alternating


def bar_chart(values: list[float], width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """An RGB PNG of one bar per value (negative values draw as empty bars), on axes."""
    pixels = [bytearray(bytes(_BACKGROUND) * width) for _ in range(height)]
    base = height - _MARGIN
    top = max([v for v in values if v > 0], default=0.0)
    slot = (width - 2 * _MARGIN) / max(1, len(values))
    for index, value in enumerate(values):
        if top <= 0 or value <= 0:
            continue
        bar_height = max(1, round((base - _MARGIN) * value / top))
        left = _MARGIN + round(index * slot + slot * 0.15)
        right = _MARGIN + round((index + 1) * slot - slot * 0.15)
        _fill(pixels, left, max(left + 1, right), base - bar_height, base, _BARS[index % 2])
    _fill(pixels, _MARGIN - 2, _MARGIN, _MARGIN, base + 2, _AXIS)  # the y axis
    _fill(pixels, _MARGIN - 2, width - _MARGIN, base, base + 2, _AXIS)  # the x axis
    return encode(pixels, width, height)


def _fill(
    pixels: list[bytearray], x0: int, x1: int, y0: int, y1: int, rgb: tuple[int, int, int]
) -> None:
    run = bytes(rgb) * (x1 - x0)
    for row in pixels[y0:y1]:
        row[x0 * 3 : x1 * 3] = run


def encode(rows: list[bytearray], width: int, height: int) -> bytes:
    """8-bit RGB rows as a PNG: IHDR, one zlib-compressed IDAT (filter 0 per row), IEND."""
    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR; a `ValueError` if `data` is not a PNG."""
    if not data.startswith(SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height
