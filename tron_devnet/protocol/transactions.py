"""``Transaction.raw`` (what the txID hashes and the key signs) and the signed ``Transaction``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from tronpy.proto import tron_pb2

from tron_devnet.protocol import wire
from tron_devnet.protocol.contracts import Contract, parse, serialize

_RAW_FIELDS = {1, 3, 4, 8, 10, 11, 14, 18}


@dataclass(frozen=True)
class RawTransaction:
    """``Transaction.raw``; its protobuf bytes are what the txID hashes and the key signs."""

    contracts: tuple[Contract, ...]
    ref_block_bytes: bytes = b""
    ref_block_num: int = 0
    ref_block_hash: bytes = b""
    expiration: int = 0
    data: bytes = b""  # the memo
    timestamp: int = 0
    fee_limit: int = 0

    def message(self) -> Any:
        return tron_pb2.Transaction.raw(
            ref_block_bytes=self.ref_block_bytes,
            ref_block_num=self.ref_block_num,
            ref_block_hash=self.ref_block_hash,
            expiration=self.expiration,
            data=self.data,
            contract=[contract.message() for contract in self.contracts],
            timestamp=self.timestamp,
            fee_limit=self.fee_limit,
        )

    def encode(self) -> bytes:
        return serialize(self.message())

    @property
    def txid(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def decode(cls, data: bytes) -> RawTransaction:
        """Parse ``raw_data_hex`` bytes; refuses what it would not encode to the same bytes.

        A txID is the hash of the bytes as sent, so a non-canonical encoding (fields out of
        order, explicit defaults, repeated scalars) would make our structure disagree with the
        ID; such input is refused rather than normalised.
        """
        parsed = parse(tron_pb2.Transaction.raw, data, _RAW_FIELDS, "Transaction.raw")
        raw = cls(
            contracts=tuple(Contract.from_message(contract) for contract in parsed.contract),
            ref_block_bytes=parsed.ref_block_bytes,
            ref_block_num=parsed.ref_block_num,
            ref_block_hash=parsed.ref_block_hash,
            expiration=parsed.expiration,
            data=parsed.data,
            timestamp=parsed.timestamp,
            fee_limit=parsed.fee_limit,
        )
        if raw.encode() != data:
            raise ValueError("non-canonical Transaction.raw encoding")
        return raw

    @property
    def owner_address(self) -> bytes:
        return self.contracts[0].parameter.owner_address if self.contracts else b""


# Transaction.Result.contractResult, in enum order.
CONTRACT_RESULTS = (
    "DEFAULT",
    "SUCCESS",
    "REVERT",
    "BAD_JUMP_DESTINATION",
    "OUT_OF_MEMORY",
    "PRECOMPILED_CONTRACT",
    "STACK_TOO_SMALL",
    "STACK_TOO_LARGE",
    "ILLEGAL_OPERATION",
    "STACK_OVERFLOW",
    "OUT_OF_ENERGY",
    "OUT_OF_TIME",
    "JVM_STACK_OVER_FLOW",
    "UNKNOWN",
    "TRANSFER_FAILED",
)


@dataclass(frozen=True)
class SignedTransaction:
    """``Transaction``: raw data (field 1), signatures (2), results (5, set by the node)."""

    raw: RawTransaction
    signatures: tuple[bytes, ...] = ()
    contract_ret: str = ""  # Transaction.Result.contractRet once executed, e.g. "SUCCESS"

    @property
    def txid(self) -> bytes:
        return self.raw.txid

    def encode(self) -> bytes:
        envelope = tron_pb2.Transaction(raw_data=self.raw.message(), signature=self.signatures)
        data = serialize(envelope)
        if not self.contract_ret:
            return data
        # tron_pb2 has no Transaction.Result; field 5 follows the declared ones, by hand.
        result = wire.Writer()
        result.integer(3, CONTRACT_RESULTS.index(self.contract_ret))
        ret = wire.Writer()
        ret.message(5, bytes(result.buffer))
        return data + bytes(ret.buffer)

    @classmethod
    def decode(cls, data: bytes) -> SignedTransaction:
        """A whole ``Transaction`` as ``wallet/broadcasthex`` receives it.

        Results (field 5) are the node's to set after execution; what a sender put there is
        dropped, as java-tron's ``TransactionCapsule`` does when it executes the transaction.

        The envelope is split by hand: the txID hashes ``raw_data`` exactly as sent, which a
        parsed protobuf message cannot give back, and ``tron_pb2`` has no field 5.
        """
        raw: RawTransaction | None = None
        signatures: list[bytes] = []
        for number, value in wire.fields(data):
            if number == 1:
                if raw is not None:
                    raise ValueError("Transaction: raw_data given twice")
                raw = RawTransaction.decode(wire.blob(value))
            elif number == 2:
                signatures.append(wire.blob(value))
            elif number != 5:
                raise ValueError(f"Transaction: unsupported field {number}")
        if raw is None:
            raise ValueError("Transaction: no raw_data")
        return cls(raw=raw, signatures=tuple(signatures))
