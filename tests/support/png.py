"""A small PNG reader for the browser test's screenshots (8-bit RGB/RGBA, not interlaced): no imaging library needed."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

CHANNELS = {2: 3, 6: 4}  # colour type -> bytes per pixel (8-bit truecolour, with or without alpha)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _unfilter(kind: int, row: bytearray, prior: bytearray, bpp: int) -> bytearray:
    """Undo one scanline's filter (PNG spec, section 9)."""
    if kind == 2:
        return bytearray((x + b) & 0xFF for x, b in zip(row, prior))
    if kind in (1, 3, 4):
        for i in range(len(row)):
            a = row[i - bpp] if i >= bpp else 0
            c = prior[i - bpp] if i >= bpp else 0
            guess = a if kind == 1 else (a + prior[i]) // 2 if kind == 3 else _paeth(a, prior[i], c)
            row[i] = (row[i] + guess) & 0xFF
    return row


def read(path: Path) -> tuple[int, int, list[tuple[int, ...]]]:
    """(width, height, pixels as RGB tuples, row by row)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG file"
    pos, chunks, idat = 8, {}, b""
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        idat += body if kind == b"IDAT" else b""
        chunks.setdefault(kind, body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and colour in CHANNELS and not interlace, f"{path}: unsupported PNG layout"
    bpp = CHANNELS[colour]
    raw, stride = zlib.decompress(idat), width * bpp
    prior, pixels = bytearray(stride), []
    for y in range(height):
        start = y * (stride + 1)
        prior = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), prior, bpp)
        pixels += [tuple(prior[x:x + 3]) for x in range(0, stride, bpp)]
    return width, height, pixels
