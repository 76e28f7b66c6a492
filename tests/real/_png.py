"""Just enough PNG for screenshot comparisons, with the standard library only: 8-bit RGB/RGBA, not interlaced
(what Chromium's screenshots are)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {2: 3, 6: 4}  # colour type -> channels (RGB, RGBA)


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    rgba: bytes  # width * height * 4

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        at = (y * self.width + x) * 4
        return tuple(self.rgba[at:at + 4])


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def decode(data: bytes) -> Image:
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG")
    pos, idat, header = len(SIGNATURE), bytearray(), None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
    n = CHANNELS[colour]
    raw = zlib.decompress(bytes(idat))
    stride = width * n
    out = bytearray()
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - n] if i >= n else 0
            up = previous[i]
            corner = previous[i - n] if i >= n else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, corner)) & 0xFF
        previous = line
        if n == 4:
            out += line
        else:
            for i in range(0, stride, 3):
                out += line[i:i + 3] + b"\xff"
    return Image(width, height, bytes(out))


def differing(a: Image, b: Image, *, channel_tolerance: int,
              region: tuple[int, int, int, int] | None = None) -> float:
    """The share of pixels (0..1) where some channel differs by more than `channel_tolerance`, within `region`
    (left, top, right, bottom; exclusive) or the whole image; 1.0 when the sizes differ."""
    if (a.width, a.height) != (b.width, b.height):
        return 1.0
    left, top, right, bottom = region or (0, 0, a.width, a.height)
    count = 0
    for y in range(top, bottom):
        for x in range(left, right):
            i = (y * a.width + x) * 4
            if any(abs(a.rgba[i + c] - b.rgba[i + c]) > channel_tolerance for c in range(4)):
                count += 1
    return count / ((right - left) * (bottom - top))
