from __future__ import annotations

import base58
import pytest
from django.core.exceptions import ValidationError

from btt_platform.tron import is_tron_address, validate_tron_address

VALID = [
    "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4",  # BTT TRC-20 contract, mainnet
    "TNuoKL1ni8aoshfFL1ASca1Gou9RXwAzfn",  # BTT on Nile
    "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",  # USDT TRC-20
]


@pytest.mark.parametrize("address", VALID)
def test_real_addresses_are_valid(address: str) -> None:
    assert is_tron_address(address)
    validate_tron_address(address)


def _flip_last_char(address: str) -> str:
    last = "2" if address[-1] != "2" else "3"
    return address[:-1] + last


@pytest.mark.parametrize(
    "address",
    [
        "",
        "T",
        _flip_last_char(VALID[0]),  # checksum mismatch
        VALID[0].lower(),
        VALID[0][:-1],  # too short
        VALID[0] + "1",  # too long
        "0x" + "41" * 21,  # hex form is not what a wallet shows
        base58.b58encode_check(b"\x00" + bytes(20)).decode(),  # Bitcoin-style prefix
        base58.b58encode_check(b"\x42" + bytes(20)).decode(),  # wrong version byte
        "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnV0O",  # 0 and O are not base58
        " " + VALID[0],
    ],
)
def test_malformed_addresses_are_refused(address: str) -> None:
    assert not is_tron_address(address)
    with pytest.raises(ValidationError) as error:
        validate_tron_address(address)
    assert error.value.code == "invalid_tron_address"
