"""Transactions in java-tron's JSON (``JsonFormat`` with ``visible``, ``Util.packTransaction``).

``visible`` false = every byte string in hex, addresses as ``41…`` hex; true = address fields in
base58check and "name" fields (such as ``TransferAssetContract.asset_name``) as UTF-8,
everything else still hex. Fields holding their proto3 default are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tron_devnet.protocol.addresses import address_from_base58, address_to_base58
from tron_devnet.protocol.contracts import (
    CONTRACT_TYPES,
    Contract,
    ContractParameter,
)
from tron_devnet.protocol.transactions import RawTransaction, SignedTransaction

_ADDRESS_FIELDS = {"owner_address", "to_address", "contract_address"}
_NAME_FIELDS = {("TransferAssetContract", "asset_name")}


def _bytes_to_json(value: bytes, contract_type: str, name: str, visible: bool) -> str:
    if visible and name in _ADDRESS_FIELDS:
        return address_to_base58(value)
    if visible and (contract_type, name) in _NAME_FIELDS:
        try:
            return value.decode()
        except UnicodeDecodeError:
            return value.hex()  # java-tron falls back to hex when the text is not valid
    return value.hex()


def _bytes_from_json(value: object, contract_type: str, name: str, visible: bool) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string")
    if visible and name in _ADDRESS_FIELDS:
        return address_from_base58(value)
    if visible and (contract_type, name) in _NAME_FIELDS:
        return value.encode()
    return hex_bytes(value, name)


def hex_bytes(value: object, name: str) -> bytes:
    """A JSON hex string (``0x`` allowed) as bytes; ValueError naming the field otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a hex string")
    text = value[2:] if value.startswith(("0x", "0X")) else value
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{name}: invalid hex") from None


def json_int(value: object, name: str) -> int:
    """A JSON integer within int64; ValueError naming the field otherwise.

    JSON numbers only: bool is an int in Python but not in JSON.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected an integer")
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f"{name}: out of int64 range")
    return value


_PARAMETER_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    # (json name, kind) in field-number order; kind "b" = bytes, "i" = int64.
    "TransferContract": (("owner_address", "b"), ("to_address", "b"), ("amount", "i")),
    "TransferAssetContract": (
        ("asset_name", "b"),
        ("owner_address", "b"),
        ("to_address", "b"),
        ("amount", "i"),
    ),
    "TriggerSmartContract": (
        ("owner_address", "b"),
        ("contract_address", "b"),
        ("call_value", "i"),
        ("data", "b"),
        ("call_token_value", "i"),
        ("token_id", "i"),
    ),
}


def parameter_to_json(parameter: ContractParameter, visible: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, kind in _PARAMETER_FIELDS[parameter.TYPE]:
        value = getattr(parameter, name)
        if not value:
            continue  # proto3 defaults are omitted
        out[name] = _bytes_to_json(value, parameter.TYPE, name, visible) if kind == "b" else value
    return out


def parameter_from_json(
    contract_type: str, value: Mapping[str, Any], visible: bool
) -> ContractParameter:
    kinds = dict(_PARAMETER_FIELDS[contract_type])
    kwargs: dict[str, Any] = {}
    for name, kind in kinds.items():
        if name not in value or value[name] is None:
            kwargs[name] = b"" if kind == "b" else 0
        elif kind == "b":
            kwargs[name] = _bytes_from_json(value[name], contract_type, name, visible)
        else:
            kwargs[name] = json_int(value[name], name)
    cls = CONTRACT_TYPES[contract_type][1]
    return cls(**kwargs)


def raw_to_json(raw: RawTransaction, visible: bool) -> dict[str, Any]:
    contracts = []
    for contract in raw.contracts:
        item: dict[str, Any] = {
            "parameter": {
                "value": parameter_to_json(contract.parameter, visible),
                "type_url": contract.type_url,
            },
            "type": contract.type,
        }
        if contract.permission_id:
            item["Permission_id"] = contract.permission_id
        contracts.append(item)
    out: dict[str, Any] = {"contract": contracts}
    if raw.ref_block_bytes:
        out["ref_block_bytes"] = raw.ref_block_bytes.hex()
    if raw.ref_block_num:
        out["ref_block_num"] = raw.ref_block_num
    if raw.ref_block_hash:
        out["ref_block_hash"] = raw.ref_block_hash.hex()
    if raw.expiration:
        out["expiration"] = raw.expiration
    if raw.data:
        out["data"] = raw.data.hex()
    if raw.fee_limit:
        out["fee_limit"] = raw.fee_limit
    if raw.timestamp:
        out["timestamp"] = raw.timestamp
    return out


def _permission_id(value: object) -> int:
    # Transaction.Contract.Permission_id is an int32 (JsonFormat: "Number out of range").
    number = json_int(value, "Permission_id")
    if not -(1 << 31) <= number < 1 << 31:
        raise ValueError("Permission_id: out of int32 range")
    return number


def raw_from_json(raw_data: Mapping[str, Any], visible: bool) -> RawTransaction:
    """java-tron's ``Util.packTransaction``: the raw data from its JSON; raw_data_hex is ignored."""
    if not isinstance(raw_data, Mapping):
        raise ValueError("raw_data: expected an object")
    contracts = []
    for item in raw_data.get("contract") or []:
        if not isinstance(item, Mapping):
            raise ValueError("contract: expected objects")
        contract_type = item.get("type")
        if contract_type not in CONTRACT_TYPES:
            raise ValueError(f"unsupported contract type {contract_type!r}")
        parameter = item.get("parameter") or {}
        value = parameter.get("value") or {}
        if not isinstance(value, Mapping):
            raise ValueError("parameter.value: expected an object")
        contracts.append(
            Contract(
                parameter=parameter_from_json(contract_type, value, visible),
                type_url=str(parameter.get("type_url") or ""),
                permission_id=_permission_id(item.get("Permission_id") or 0),
            )
        )

    def number(name: str) -> int:
        return json_int(raw_data.get(name) or 0, name)

    def blob(name: str) -> bytes:
        return hex_bytes(raw_data.get(name) or "", name)

    return RawTransaction(
        contracts=tuple(contracts),
        ref_block_bytes=blob("ref_block_bytes"),
        ref_block_num=number("ref_block_num"),
        ref_block_hash=blob("ref_block_hash"),
        expiration=number("expiration"),
        data=blob("data"),
        timestamp=number("timestamp"),
        fee_limit=number("fee_limit"),
    )


def transaction_to_json(transaction: SignedTransaction, visible: bool) -> dict[str, Any]:
    """java-tron's ``Util.printTransactionToJSON``."""
    out: dict[str, Any] = {
        "visible": visible,
        "txID": transaction.txid.hex(),
        "raw_data": raw_to_json(transaction.raw, visible),
        "raw_data_hex": transaction.raw.encode().hex(),
    }
    if transaction.signatures:
        out["signature"] = [signature.hex() for signature in transaction.signatures]
    if transaction.contract_ret:
        out["ret"] = [{"contractRet": transaction.contract_ret}]
    return out


def transaction_from_json(payload: Mapping[str, Any], visible: bool) -> SignedTransaction:
    raw = raw_from_json(payload.get("raw_data") or {}, visible)
    signatures = tuple(
        hex_bytes(signature, "signature") for signature in payload.get("signature") or []
    )
    return SignedTransaction(raw=raw, signatures=signatures)
