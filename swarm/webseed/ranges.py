"""Byte ranges (RFC 9110 §14): the Range header parsed, and several ranges as one body.

Every ``Range`` gets a 206 with exactly the ranges asked for: Transmission accepts only 206, and
libtorrent disconnects when it receives other bytes than the range it asked for.
"""

from __future__ import annotations

import itertools
import re
import secrets

# No client of ours sends many ranges; a long list is an amplification attempt.
MAX_RANGES = 32
_RANGE_SPEC = re.compile(r"(\d*)-(\d*)", re.ASCII)

# A part of a response body: bytes as they are, or an inclusive range of the file.
Part = bytes | tuple[int, int]


class RangeNotSatisfiable(Exception):
    """A Range header that is malformed, asks for nothing inside the file, or asks too much."""


def parse_ranges(header: str, size: int) -> list[tuple[int, int]]:
    """The byte ranges of a ``Range`` header as inclusive (first, last) pairs, in request order.

    Unsatisfiable parts are dropped as RFC 9110 says; if none is left, or the header is
    malformed, RangeNotSatisfiable. Malformed headers get 416 rather than the whole file: a web
    seed client that receives other bytes than it asked for drops the connection.
    """
    unit, equals, specs = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        raise RangeNotSatisfiable(header)
    parts = [part.strip() for part in specs.split(",")]
    parts = [part for part in parts if part]  # empty list elements are allowed
    if not parts or len(parts) > MAX_RANGES:
        raise RangeNotSatisfiable(header)
    ranges = []
    for part in parts:
        match = _RANGE_SPEC.fullmatch(part)
        if match is None or part == "-":
            raise RangeNotSatisfiable(header)
        first_text, last_text = match.groups()
        if not first_text:  # suffix: the last n bytes
            length = int(last_text)
            if length > 0 and size > 0:
                ranges.append((max(0, size - length), size - 1))
            continue
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
        if last < first:
            raise RangeNotSatisfiable(header)
        if first < size:
            ranges.append((first, min(last, size - 1)))
    if not ranges:
        raise RangeNotSatisfiable(header)
    ordered = sorted(ranges)
    if any(later[0] <= earlier[1] for earlier, later in itertools.pairwise(ordered)):
        # Overlapping ranges only serve to multiply the bytes sent (RFC 9110 §14.2 allows refusing).
        raise RangeNotSatisfiable(header)
    return ranges


def multipart_byteranges(
    ranges: list[tuple[int, int]], size: int, content_type: str
) -> tuple[str, list[Part], int]:
    """A multipart/byteranges body of ``ranges`` of a file of ``size`` bytes: its Content-Type,
    its parts and its length."""
    boundary = secrets.token_hex(12)
    parts: list[Part] = []
    length = 0
    for first, last in ranges:
        head = (
            f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n"
            f"Content-Range: bytes {first}-{last}/{size}\r\n\r\n"
        ).encode("ascii")
        parts += [head, (first, last)]
        length += len(head) + last - first + 1
    tail = f"\r\n--{boundary}--\r\n".encode("ascii")
    parts.append(tail)
    return f"multipart/byteranges; boundary={boundary}", parts, length + len(tail)
