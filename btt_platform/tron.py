"""TRON addresses: the base58check codec and the model validator. (The node client is
``payments.chain.node``.)"""

from __future__ import annotations

import base58
from django.core.exceptions import ValidationError

# A TRON address is 0x41 followed by the last 20 bytes of keccak256(pubkey), in base58check;
# the 0x41 prefix is what makes every mainnet/testnet address start with "T".
ADDRESS_PREFIX = 0x41
ADDRESS_LENGTH = 21


def is_tron_address(value: str) -> bool:
    if not isinstance(value, str) or not value.startswith("T") or len(value) != 34:
        return False
    try:
        raw = base58.b58decode_check(value)
    except ValueError:
        return False
    return len(raw) == ADDRESS_LENGTH and raw[0] == ADDRESS_PREFIX


def validate_tron_address(value: str) -> None:
    """Django validator: a base58check TRON address (T…, 34 characters, valid checksum)."""
    if not is_tron_address(value):
        raise ValidationError(
            "Enter a valid TRON address: 34 characters starting with T, as your wallet shows it "
            "(the checksum did not match).",
            code="invalid_tron_address",
        )
