"""TRON addresses: 21 bytes (0x41 + the last 20 of keccak256(public key)), base58check as text."""

from __future__ import annotations

import base58

ADDRESS_PREFIX = 0x41
ADDRESS_LENGTH = 21


def address_from_base58(value: str) -> bytes:
    """The 21 bytes of a ``T…`` address; ValueError when the checksum or prefix is wrong."""
    try:
        raw = base58.b58decode_check(value)
    except ValueError:
        raise ValueError(f"invalid address {value!r}") from None
    if len(raw) != ADDRESS_LENGTH or raw[0] != ADDRESS_PREFIX:
        raise ValueError(f"invalid address {value!r}")
    return raw


def address_to_base58(raw: bytes) -> str:
    return base58.b58encode_check(raw).decode()


def is_valid_address(raw: bytes) -> bool:
    """java-tron's ``DecodeUtil.addressValid``: 21 bytes starting with 0x41."""
    return len(raw) == ADDRESS_LENGTH and raw[0] == ADDRESS_PREFIX
