#!/usr/bin/env python3
"""Writes a small colourful PNG with a tEXt metadata chunk (standard library only).

Used by `make demo` and the end-to-end tests: the chunk carries a fake GPS position, which Parley
must strip before the image leaves the sender's machine.
"""
import struct
import sys
import zlib


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def make_png(width: int, height: int, text: bytes) -> bytes:
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type: none
        for x in range(width):
            row += bytes([(x * 255) // max(1, width - 1), (y * 255) // max(1, height - 1), 160, 255])
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"tEXt", text)
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_demo_png.py OUT.png")
    with open(sys.argv[1], "wb") as out:
        out.write(make_png(48, 24, b"Comment\x00GPS 48.8584N 2.2945E (this must not leave the sender)"))
