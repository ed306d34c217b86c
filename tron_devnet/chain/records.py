"""What the chain hands out: blocks, stored transactions with their receipts, accounts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tron_devnet import trc20
from tron_devnet.protocol.blocks import BlockHeaderRaw
from tron_devnet.protocol.transactions import SignedTransaction


@dataclass(frozen=True)
class Receipt:
    """What ``gettransactioninfobyid`` reports besides the block fields."""

    net_usage: int = 0
    fee: int = 0
    contract_result: bytes = b""
    contract_address: bytes = b""
    energy_usage_total: int = 0
    vm_result: str = ""  # ResourceReceipt.result for contract calls: SUCCESS, REVERT, ...
    failed: bool = False
    res_message: str = ""
    logs: tuple[trc20.Log, ...] = ()

    def to_record(self) -> str:
        return json.dumps(
            {
                "net_usage": self.net_usage,
                "fee": self.fee,
                "contract_result": self.contract_result.hex(),
                "contract_address": self.contract_address.hex(),
                "energy_usage_total": self.energy_usage_total,
                "vm_result": self.vm_result,
                "failed": self.failed,
                "res_message": self.res_message,
                "logs": [
                    [log.address.hex(), [t.hex() for t in log.topics], log.data.hex()]
                    for log in self.logs
                ],
            }
        )

    @classmethod
    def from_record(cls, text: str) -> Receipt:
        record = json.loads(text)
        return cls(
            net_usage=record["net_usage"],
            fee=record["fee"],
            contract_result=bytes.fromhex(record["contract_result"]),
            contract_address=bytes.fromhex(record["contract_address"]),
            energy_usage_total=record["energy_usage_total"],
            vm_result=record["vm_result"],
            failed=record["failed"],
            res_message=record["res_message"],
            logs=tuple(
                trc20.Log(
                    bytes.fromhex(address),
                    tuple(bytes.fromhex(t) for t in topics),
                    bytes.fromhex(data),
                )
                for address, topics, data in record["logs"]
            ),
        )


@dataclass(frozen=True)
class StoredTransaction:
    transaction: SignedTransaction
    receipt: Receipt
    block_num: int | None
    block_timestamp: int | None

    @property
    def txid(self) -> bytes:
        return self.transaction.txid


@dataclass(frozen=True)
class Block:
    header: BlockHeaderRaw
    block_id: bytes
    witness_signature: bytes
    transactions: tuple[StoredTransaction, ...] = ()

    @property
    def num(self) -> int:
        return self.header.number

    @property
    def timestamp(self) -> int:
        return self.header.timestamp


@dataclass(frozen=True)
class Account:
    address: bytes
    is_contract: bool
    create_time: int
    balance: int
    assets: dict[str, int] = field(default_factory=dict)
