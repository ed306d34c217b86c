"""A native emulation of the TRC-20 BTT contract, enough for payments: no TVM, same ABI.

Calls arrive as TriggerSmartContract data (4-byte selector + ABI-encoded arguments) exactly as
on mainnet; the answers are ABI-encoded the same way, and a successful ``transfer`` leaves the
standard ``Transfer(address,address,uint256)`` log that watchers read from the receipt.
Anything the emulation does not implement reverts, as a call to a missing function would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError
from tronpy.keys import keccak256

from tron_devnet.protocol.addresses import ADDRESS_PREFIX, address_from_base58

BTT_ADDRESS = "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4"
BTT_CONTRACT = address_from_base58(BTT_ADDRESS)
NAME = "BitTorrent"
SYMBOL = "BTT"
DECIMALS = 18
# 990,000,000,000 BTT before the 1:1000 redenomination of December 2021, 18 decimals after it.
TOTAL_SUPPLY = 990_000_000_000 * 1000 * 10**DECIMALS
UINT256_MAX = 2**256 - 1

TRANSFER_TOPIC = keccak256(b"Transfer(address,address,uint256)")

# Energy a TRC-20 transfer used in TRON's documentation example (triggerconstantcontract).
TRANSFER_ENERGY = 29631
READ_ENERGY = 500


def selector(signature: str) -> bytes:
    return bytes(keccak256(signature.encode())[:4])


@dataclass(frozen=True)
class Log:
    address: bytes  # 21 bytes, 0x41-prefixed; java-tron keeps 20 and adds the prefix for display
    topics: tuple[bytes, ...]
    data: bytes


@dataclass
class CallResult:
    success: bool
    output: bytes = b""
    energy: int = READ_ENERGY
    logs: list[Log] = field(default_factory=list)
    # (token holder, signed change) pairs for the ledger, applied only when success is true.
    balance_changes: list[tuple[bytes, int]] = field(default_factory=list)


def _tvm_address(raw: str) -> bytes:
    """An ABI ``address`` (20 bytes) as a TRON address (0x41 + 20 bytes)."""
    return bytes([ADDRESS_PREFIX]) + bytes.fromhex(raw[2:])


def _word(address: bytes) -> bytes:
    return bytes(12) + address[1:]


def call(
    balance_of: Callable[[bytes], int], caller: bytes, data: bytes, call_value: int = 0
) -> CallResult:
    """Run one call against the token; ``balance_of`` reads the ledger (at the state wanted)."""
    if call_value or len(data) < 4:
        # Not payable, and no fallback function: both revert with empty return data.
        return CallResult(success=False)
    function, arguments = data[:4], data[4:]
    try:
        if function == _SELECTORS["name()"]:
            return CallResult(True, encode(["string"], [NAME]))
        if function == _SELECTORS["symbol()"]:
            return CallResult(True, encode(["string"], [SYMBOL]))
        if function == _SELECTORS["decimals()"]:
            return CallResult(True, encode(["uint8"], [DECIMALS]))
        if function == _SELECTORS["totalSupply()"]:
            return CallResult(True, encode(["uint256"], [TOTAL_SUPPLY]))
        if function == _SELECTORS["balanceOf(address)"]:
            (holder,) = decode(["address"], arguments)
            return CallResult(True, encode(["uint256"], [balance_of(_tvm_address(holder))]))
        if function == _SELECTORS["transfer(address,uint256)"]:
            recipient_raw, amount = decode(["address", "uint256"], arguments)
            return _transfer(balance_of, caller, _tvm_address(recipient_raw), amount)
    except DecodingError:
        return CallResult(success=False)
    return CallResult(success=False)


def _transfer(
    balance_of: Callable[[bytes], int], sender: bytes, recipient: bytes, amount: int
) -> CallResult:
    # Solidity's require() without a reason: a revert with empty return data.
    if recipient[1:] == bytes(20) or balance_of(sender) < amount:
        return CallResult(success=False, energy=TRANSFER_ENERGY)
    return CallResult(
        success=True,
        output=encode(["bool"], [True]),
        energy=TRANSFER_ENERGY,
        logs=[
            Log(
                address=BTT_CONTRACT,
                topics=(TRANSFER_TOPIC, _word(sender), _word(recipient)),
                data=amount.to_bytes(32, "big"),
            )
        ],
        balance_changes=[(sender, -amount), (recipient, amount)],
    )


def is_constant(data: bytes) -> bool:
    return data[:4] in _CONSTANT


def is_transfer(data: bytes) -> bool:
    return data[:4] == _SELECTORS["transfer(address,uint256)"]


# java-tron's SmartContract.ABI JSON (enum names as java-tron prints them).
ABI: list[dict[str, Any]] = [
    {
        "constant": True,
        "name": "name",
        "outputs": [{"type": "string"}],
        "type": "Function",
        "stateMutability": "View",
    },
    {
        "constant": True,
        "name": "symbol",
        "outputs": [{"type": "string"}],
        "type": "Function",
        "stateMutability": "View",
    },
    {
        "constant": True,
        "name": "decimals",
        "outputs": [{"type": "uint8"}],
        "type": "Function",
        "stateMutability": "View",
    },
    {
        "constant": True,
        "name": "totalSupply",
        "outputs": [{"type": "uint256"}],
        "type": "Function",
        "stateMutability": "View",
    },
    {
        "constant": True,
        "inputs": [{"name": "account", "type": "address"}],
        "name": "balanceOf",
        "outputs": [{"type": "uint256"}],
        "type": "Function",
        "stateMutability": "View",
    },
    {
        "inputs": [{"name": "recipient", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "name": "transfer",
        "outputs": [{"type": "bool"}],
        "type": "Function",
        "stateMutability": "Nonpayable",
    },
    {
        "inputs": [
            {"indexed": True, "name": "from", "type": "address"},
            {"indexed": True, "name": "to", "type": "address"},
            {"name": "value", "type": "uint256"},
        ],
        "name": "Transfer",
        "type": "Event",
    },
]

_SELECTORS = {
    signature: selector(signature)
    for signature in (
        "name()",
        "symbol()",
        "decimals()",
        "totalSupply()",
        "balanceOf(address)",
        "transfer(address,uint256)",
    )
}
_CONSTANT = {
    _SELECTORS[s]
    for s in ("name()", "symbol()", "decimals()", "totalSupply()", "balanceOf(address)")
}
