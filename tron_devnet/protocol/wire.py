"""The protobuf wire format by hand, for what tronpy's generated ``tron_pb2`` does not declare.

``tron_pb2`` has ``Transaction`` with ``raw_data`` (1) and ``signature`` (2) only, and the
contracts a wallet sends. java-tron's ``BlockHeader.raw`` and ``Transaction.Result`` (the ``ret``
a node adds after execution, field 5) are not in it, and the devnet needs both: a block ID
hashes the header, and a block's transaction root hashes each transaction with its result.
Both are flat messages of varint and length-delimited fields, which is all this module writes
and reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

VARINT = 0
LENGTH_DELIMITED = 2
_UINT64 = (1 << 64) - 1


def varint(value: int) -> bytes:
    """A base-128 varint; negative int64/int32 values go as their 64-bit two's complement."""
    value &= _UINT64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return varint((number << 3) | wire_type)


class Writer:
    """Appends fields in the order given; callers give them in field-number order like java-tron.

    proto3 leaves default values (0, empty bytes) out of the encoding entirely.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()

    def integer(self, number: int, value: int) -> None:
        """An int64/int32/enum field, left out when 0."""
        if value:
            self.buffer += _tag(number, VARINT) + varint(value)

    def blob(self, number: int, value: bytes) -> None:
        """A bytes field, left out when empty."""
        if value:
            self.buffer += _tag(number, LENGTH_DELIMITED) + varint(len(value)) + value

    def message(self, number: int, value: bytes) -> None:
        """An embedded message, written even when empty (it is present, not default)."""
        self.buffer += _tag(number, LENGTH_DELIMITED) + varint(len(value)) + value


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise ValueError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
        if shift >= 70:
            raise ValueError("varint longer than 10 bytes")
    if result > _UINT64:
        raise ValueError("varint beyond 64 bits")
    return result, position


def fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) in the order sent: an int for varints, bytes for the rest.

    Raises ValueError on a malformed encoding or a wire type other than varint and
    length-delimited.
    """
    position = 0
    while position < len(data):
        key, position = _read_varint(data, position)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire_type == VARINT:
            value, position = _read_varint(data, position)
            yield number, value
        elif wire_type == LENGTH_DELIMITED:
            length, position = _read_varint(data, position)
            if position + length > len(data):
                raise ValueError("length-delimited field past the end")
            yield number, data[position : position + length]
            position += length
        else:
            raise ValueError(f"unsupported wire type {wire_type} (field {number})")


def int64(value: int | bytes) -> int:
    """A varint field's value as a signed int64; ValueError for a length-delimited one."""
    if not isinstance(value, int):
        raise ValueError("expected a varint")
    return value - (1 << 64) if value >= 1 << 63 else value


def blob(value: int | bytes) -> bytes:
    """A length-delimited field's bytes; ValueError for a varint one."""
    if not isinstance(value, bytes):
        raise ValueError("expected a length-delimited field")
    return value


def only(values: Mapping[int, object], known: set[int], what: str) -> None:
    """Refuse field numbers outside ``known`` (ValueError naming them)."""
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{what}: unsupported field(s) {sorted(unknown)}")
