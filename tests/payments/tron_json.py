"""java-tron's answers, built the way a full node writes them.

``gettransactionbyid`` and ``gettransactioninfobyid`` JSON for TRX, TRC-10 and TRC-20
transfers, in either ``visible`` form, with default-valued fields left out as java-tron does.
``raw_data_hex`` is the real protobuf encoding of ``raw_data`` (tronpy's generated
``tron_pb2``) and ``txID`` its sha256, so a transaction here is one a node could have mined;
``test_builder_reproduces_mainnet_vectors`` checks the encoding against two real mainnet
transactions.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import base58
from google.protobuf import any_pb2  # type: ignore[import-untyped]
from tronpy.keys import PrivateKey
from tronpy.proto import tron_pb2

from payments.chain.verification import TRANSFER_TOPIC
from payments.money import BTT_TRC20_MAINNET_CONTRACT

TYPE_URL = "type.googleapis.com/protocol.{}"
TRANSFER_SELECTOR = "a9059cbb"  # transfer(address,uint256)
BLOCK_TIME_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def at(moment: datetime) -> int:
    """A block timestamp (milliseconds since the epoch, as java-tron writes it)."""
    return int(moment.timestamp() * 1000)


def key_of(seed: int) -> PrivateKey:
    """A real key, the same for the same seed."""
    return PrivateKey(hashlib.sha256(f"test key {seed}".encode()).digest())


def address_of(seed: int) -> str:
    """A real key's address (base58), the same for the same seed."""
    address: str = key_of(seed).public_key.to_base58check_address()
    return address


def signed_by(seed: int, message: str) -> str:
    """The TIP-191 signature (hex) of ``message`` by the key of ``seed``, as a wallet's
    ``signMessageV2`` makes it."""
    signature: str = key_of(seed).sign_msg(message.encode()).hex()
    return signature


def hex_address(address: str) -> str:
    """41-prefixed hex, as java-tron writes addresses unless ``visible``."""
    return base58.b58decode_check(address).hex()


def evm_address(address: str) -> str:
    """The 20 bytes without the 0x41 prefix, as in a log's address and topics."""
    return hex_address(address)[2:]


def word(value: int | str) -> str:
    """A 32-byte ABI word: an integer, or an address left-padded with zeros."""
    if isinstance(value, int):
        return f"{value:064x}"
    return evm_address(value).rjust(64, "0")


def raw_data_hex(raw_data: dict[str, Any]) -> str:
    """The protobuf ``Transaction.raw`` of a JSON ``raw_data`` (``visible`` false)."""
    contracts = []
    for contract in raw_data["contract"]:
        kind = contract["type"]
        value = contract["parameter"]["value"]
        message: Any
        if kind == "TransferContract":
            message = tron_pb2.TransferContract(
                owner_address=bytes.fromhex(value["owner_address"]),
                to_address=bytes.fromhex(value["to_address"]),
                amount=value["amount"],
            )
        elif kind == "TransferAssetContract":
            message = tron_pb2.TransferAssetContract(
                asset_name=bytes.fromhex(value["asset_name"]),
                owner_address=bytes.fromhex(value["owner_address"]),
                to_address=bytes.fromhex(value["to_address"]),
                amount=value["amount"],
            )
        elif kind == "TriggerSmartContract":
            message = tron_pb2.TriggerSmartContract(
                owner_address=bytes.fromhex(value["owner_address"]),
                contract_address=bytes.fromhex(value["contract_address"]),
                data=bytes.fromhex(value["data"]),
            )
        else:
            raise ValueError(kind)
        contracts.append(
            tron_pb2.Transaction.Contract(
                type=getattr(tron_pb2.Transaction.Contract.ContractType, kind),
                parameter=any_pb2.Any(
                    type_url=contract["parameter"]["type_url"], value=message.SerializeToString()
                ),
            )
        )
    raw = tron_pb2.Transaction.raw(
        ref_block_bytes=bytes.fromhex(raw_data["ref_block_bytes"]),
        ref_block_hash=bytes.fromhex(raw_data["ref_block_hash"]),
        expiration=raw_data["expiration"],
        data=bytes.fromhex(raw_data.get("data", "")),
        contract=contracts,
        timestamp=raw_data["timestamp"],
        fee_limit=raw_data.get("fee_limit", 0),
    )
    return str(raw.SerializeToString().hex())


def _transaction(
    kind: str, value: dict[str, Any], *, memo: str, outcome: str, fee_limit: int | None, seq: int
) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    if memo:
        raw["data"] = memo.encode().hex()
    raw["contract"] = [
        {"parameter": {"value": value, "type_url": TYPE_URL.format(kind)}, "type": kind}
    ]
    raw["ref_block_bytes"] = f"{seq % 65536:04x}"
    raw["ref_block_hash"] = hashlib.sha256(f"block {seq}".encode()).hexdigest()[:16]
    raw["expiration"] = BLOCK_TIME_MS + 60_000 + seq
    if fee_limit is not None:
        raw["fee_limit"] = fee_limit
    raw["timestamp"] = BLOCK_TIME_MS - 3_000 + seq
    encoded = raw_data_hex(raw)
    return {
        "ret": [{"contractRet": outcome}],
        "signature": [hashlib.sha512(encoded.encode()).hexdigest()[:128] + "1b"],
        "txID": hashlib.sha256(bytes.fromhex(encoded)).hexdigest(),
        "raw_data": raw,
        "raw_data_hex": encoded,
    }


def _visible(transaction: dict[str, Any]) -> dict[str, Any]:
    """The same transaction as ``visible=true`` shows it: base58 addresses, plain asset ids."""
    shown = {**transaction, "visible": True}
    contract = transaction["raw_data"]["contract"][0]
    value = dict(contract["parameter"]["value"])
    for key in ("owner_address", "to_address", "contract_address"):
        if key in value:
            value[key] = base58.b58encode_check(bytes.fromhex(value[key])).decode()
    if "asset_name" in value:
        value["asset_name"] = bytes.fromhex(value["asset_name"]).decode()
    shown["raw_data"] = {
        **transaction["raw_data"],
        "contract": [{**contract, "parameter": {**contract["parameter"], "value": value}}],
    }
    return shown


def trc20_transfer(
    *,
    sender: str,
    recipient: str,
    units: int,
    contract: str = BTT_TRC20_MAINNET_CONTRACT,
    memo: str = "",
    block: int = 70_000_000,
    block_time_ms: int = BLOCK_TIME_MS,
    outcome: str = "SUCCESS",
    visible: bool = False,
    seq: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A ``transfer(recipient, units)`` call of a TRC-20 contract, and its receipt.

    ``outcome`` other than SUCCESS (e.g. REVERT) gives what java-tron records for a failed
    call: the transaction still in its block, no logs, ``result: FAILED``.
    """
    call = TRANSFER_SELECTOR + word(recipient) + word(units)
    transaction = _transaction(
        "TriggerSmartContract",
        {
            "data": call,
            "owner_address": hex_address(sender),
            "contract_address": hex_address(contract),
        },
        memo=memo,
        outcome=outcome,
        fee_limit=100_000_000,
        seq=seq,
    )
    info: dict[str, Any] = {
        "id": transaction["txID"],
        "fee": 13_844_850,
        "blockNumber": block,
        "blockTimeStamp": block_time_ms,
    }
    if outcome == "SUCCESS":
        info["contractResult"] = [word(1)]
        info["contract_address"] = contract if visible else hex_address(contract)
        info["receipt"] = {
            "energy_fee": 13_499_850,
            "energy_usage_total": 31_895,
            "net_fee": 345_000,
            "result": "SUCCESS",
        }
        info["log"] = [
            {
                "address": contract if visible else evm_address(contract),
                "topics": [TRANSFER_TOPIC, word(sender), word(recipient)],
                "data": word(units),
            }
        ]
    else:
        info["contractResult"] = [
            "08c379a0" + word(32) + word(16) + b"balance too low".hex().ljust(64, "0")
        ]
        info["contract_address"] = contract if visible else hex_address(contract)
        info["receipt"] = {"energy_usage_total": 1_203, "net_fee": 345_000, "result": outcome}
        info["result"] = "FAILED"
        info["resMessage"] = b"REVERT opcode executed".hex()
    return (_visible(transaction) if visible else transaction), info


def trc10_transfer(
    *,
    sender: str,
    recipient: str,
    units: int,
    asset: str = "1002000",
    memo: str = "",
    block: int = 70_000_000,
    block_time_ms: int = BLOCK_TIME_MS,
    visible: bool = False,
    seq: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    transaction = _transaction(
        "TransferAssetContract",
        {
            "amount": units,
            "asset_name": asset.encode().hex(),
            "owner_address": hex_address(sender),
            "to_address": hex_address(recipient),
        },
        memo=memo,
        outcome="SUCCESS",
        fee_limit=None,
        seq=seq,
    )
    info = {
        "id": transaction["txID"],
        "blockNumber": block,
        "blockTimeStamp": block_time_ms,
        "receipt": {"net_usage": 283},
    }
    return (_visible(transaction) if visible else transaction), info


def trx_transfer(
    *,
    sender: str,
    recipient: str,
    units: int,
    block: int = 70_000_000,
    block_time_ms: int = BLOCK_TIME_MS,
    seq: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    transaction = _transaction(
        "TransferContract",
        {
            "amount": units,
            "owner_address": hex_address(sender),
            "to_address": hex_address(recipient),
        },
        memo="",
        outcome="SUCCESS",
        fee_limit=None,
        seq=seq,
    )
    info = {
        "id": transaction["txID"],
        "blockNumber": block,
        "blockTimeStamp": block_time_ms,
        "receipt": {"net_usage": 268},
    }
    return transaction, info


# Two real mainnet transactions as java-tron serves them (gettransactionbyid, visible false).
# The first is a TRC-20 transfer with a memo ("send to tony") of a token that is not BTT.
MAINNET_TRC20_OTHER_TOKEN: dict[str, Any] = {
    "ret": [{"contractRet": "SUCCESS"}],
    "signature": [
        "542dc9f8a72fd3d96a03e4075789cdd017f9c7a30522fffbd1c4a2def34dfcbf0ccdc3302507168c4cc4"
        "1715d778ce3f452b988840c23f80cd4985fbc75f733a01"
    ],
    "txID": "ec0fa0d734c1d5815cee80b7accce61b0cda8a87e8d3e40061595104a4142430",
    "raw_data": {
        "data": "73656e6420746f20746f6e79",
        "contract": [
            {
                "parameter": {
                    "value": {
                        "data": (
                            "a9059cbb00000000000000000000000001c12a552c8a35051153c05792249d2512f011ba000000000000"
                            "000000000000000000000000000000000000112209c76de80000"
                        ),
                        "owner_address": "41bcaadebd7d6951971e4876f79fd95351bd5571dc",
                        "contract_address": "4135cf7d6a20a1f7149e5f99442334257a95e8f28e",
                    },
                    "type_url": "type.googleapis.com/protocol.TriggerSmartContract",
                },
                "type": "TriggerSmartContract",
            }
        ],
        "ref_block_bytes": "e7ef",
        "ref_block_hash": "ca589e3ac0ae6383",
        "expiration": 1615967241000,
        "fee_limit": 6000000,
        "timestamp": 1615967184149,
    },
    "raw_data_hex": (
        "0a02e7ef2208ca589e3ac0ae638340a8869df9832f520c73656e6420746f20746f6e795aae01081f12a9"
        "010a31747970652e676f6f676c65617069732e636f6d2f70726f746f636f6c2e54726967676572536d61"
        "7274436f6e747261637412740a1541bcaadebd7d6951971e4876f79fd95351bd5571dc12154135cf7d6a"
        "20a1f7149e5f99442334257a95e8f28e2244a9059cbb00000000000000000000000001c12a552c8a3505"
        "1153c05792249d2512f011ba000000000000000000000000000000000000000000000000112209c76de8"
        "00007095ca99f9832f9001809bee02"
    ),
}
MAINNET_TRX: dict[str, Any] = {
    "ret": [{"contractRet": "SUCCESS"}],
    "signature": [
        "c1c0b1ad18f56248ebc6820c611cd65683cef6b5deed8002246cc00df7e79f9f73d48c35b8c2e41694ef"
        "23c8020ab8c578c0aa57b7e079683f322e45c88b0e0700"
    ],
    "txID": "47086db397eac45d2fe7dacedcb6f77267d6895dce645210e495e64f8a2a7910",
    "raw_data": {
        "contract": [
            {
                "parameter": {
                    "value": {
                        "amount": 5,
                        "owner_address": "419b3281a60ab7a44f351ef2896c653f134972ad22",
                        "to_address": "4105cc125604448afeb6867eb688efb7e80411d57a",
                    },
                    "type_url": "type.googleapis.com/protocol.TransferContract",
                },
                "type": "TransferContract",
            }
        ],
        "ref_block_bytes": "fdf6",
        "ref_block_hash": "4cd898aed8ce5d14",
        "expiration": 1717419846000,
        "timestamp": 1717419788444,
    },
    "raw_data_hex": (
        "0a02fdf622084cd898aed8ce5d1440f0d2ccf1fd315a65080112610a2d747970652e676f6f676c656170"
        "69732e636f6d2f70726f746f636f6c2e5472616e73666572436f6e747261637412300a15419b3281a60a"
        "b7a44f351ef2896c653f134972ad2212154105cc125604448afeb6867eb688efb7e80411d57a1805709c"
        "91c9f1fd31"
    ),
}
