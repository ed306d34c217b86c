"""TRON's wire protocol: the protobuf ``Transaction.raw`` of java-tron, txID, signatures, JSON.

Field numbers and types are those of java-tron's ``protocol/src/main/protos/core/Tron.proto``
(``Transaction``, ``Transaction.Contract``, ``Transaction.raw``, ``BlockHeader.raw``) and
``core/contract/{balance_contract,transfer_asset_contract,smart_contract}.proto``.

Why a small explicit encoder instead of the ``protobuf`` runtime: the messages we need are five
flat ones with varint and length-delimited fields only, java-tron serialises them canonically
(fields in number order, proto3 defaults omitted), and the txID is the sha256 of exactly those
bytes. Declaring them for the protobuf runtime would mean generated code (protoc) or descriptors
built by hand at run time, both untyped for mypy, to get the same hundred lines of behaviour.
The encoder is checked against published mainnet/testnet vectors and against the protobuf
runtime through tronpy's own generated ``tron_pb2`` (tests/payments/test_tron_protocol.py).

JSON follows java-tron's ``JsonFormat`` with ``visible``: false = every byte string in hex,
addresses as ``41…`` hex; true = address fields in base58check and "name" fields (such as
``TransferAssetContract.asset_name``) as UTF-8, everything else still hex.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import base58
from tronpy.exceptions import BadSignature
from tronpy.keys import Signature

ADDRESS_PREFIX = 0x41
ADDRESS_LENGTH = 21

# --- protobuf wire format --------------------------------------------------------------------

_VARINT = 0
_LENGTH_DELIMITED = 2
_UINT64 = (1 << 64) - 1


def _varint(value: int) -> bytes:
    # int64/int32 fields: negative values are sent as their 64-bit two's complement (10 bytes).
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
    return _varint((number << 3) | wire_type)


class _Writer:
    """Appends fields in the order given; callers give them in field-number order like java-tron.

    proto3 leaves default values (0, empty bytes) out of the encoding entirely.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()

    def integer(self, number: int, value: int) -> None:
        if value:
            self.buffer += _tag(number, _VARINT) + _varint(value)

    def blob(self, number: int, value: bytes) -> None:
        if value:
            self.buffer += _tag(number, _LENGTH_DELIMITED) + _varint(len(value)) + value

    def message(self, number: int, value: bytes) -> None:
        # An embedded message is written even when empty (it is present, not default).
        self.buffer += _tag(number, _LENGTH_DELIMITED) + _varint(len(value)) + value


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


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value): an int for varints, bytes for length-delimited fields."""
    position = 0
    while position < len(data):
        key, position = _read_varint(data, position)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire_type == _VARINT:
            value, position = _read_varint(data, position)
            yield number, value
        elif wire_type == _LENGTH_DELIMITED:
            length, position = _read_varint(data, position)
            if position + length > len(data):
                raise ValueError("length-delimited field past the end")
            yield number, data[position : position + length]
            position += length
        else:
            raise ValueError(f"unsupported wire type {wire_type} (field {number})")


def _int64(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise ValueError("expected a varint")
    return value - (1 << 64) if value >= 1 << 63 else value


def _blob(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError("expected a length-delimited field")
    return value


# --- contracts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferContract:
    """TRX transfer (balance_contract.proto)."""

    owner_address: bytes
    to_address: bytes
    amount: int

    TYPE = "TransferContract"

    def encode(self) -> bytes:
        w = _Writer()
        w.blob(1, self.owner_address)
        w.blob(2, self.to_address)
        w.integer(3, self.amount)
        return bytes(w.buffer)

    @classmethod
    def decode(cls, data: bytes) -> TransferContract:
        values: dict[int, int | bytes] = dict(_fields(data))
        _only(values, {1, 2, 3}, cls.TYPE)
        return cls(_blob(values.get(1, b"")), _blob(values.get(2, b"")), _int64(values.get(3, 0)))


@dataclass(frozen=True)
class TransferAssetContract:
    """TRC-10 transfer (transfer_asset_contract.proto); asset_name is the token id as text."""

    asset_name: bytes
    owner_address: bytes
    to_address: bytes
    amount: int

    TYPE = "TransferAssetContract"

    def encode(self) -> bytes:
        w = _Writer()
        w.blob(1, self.asset_name)
        w.blob(2, self.owner_address)
        w.blob(3, self.to_address)
        w.integer(4, self.amount)
        return bytes(w.buffer)

    @classmethod
    def decode(cls, data: bytes) -> TransferAssetContract:
        values: dict[int, int | bytes] = dict(_fields(data))
        _only(values, {1, 2, 3, 4}, cls.TYPE)
        return cls(
            _blob(values.get(1, b"")),
            _blob(values.get(2, b"")),
            _blob(values.get(3, b"")),
            _int64(values.get(4, 0)),
        )


@dataclass(frozen=True)
class TriggerSmartContract:
    """A contract call (smart_contract.proto); a TRC-20 transfer is one with ABI call data."""

    owner_address: bytes
    contract_address: bytes
    data: bytes = b""
    call_value: int = 0
    call_token_value: int = 0
    token_id: int = 0

    TYPE = "TriggerSmartContract"

    def encode(self) -> bytes:
        w = _Writer()
        w.blob(1, self.owner_address)
        w.blob(2, self.contract_address)
        w.integer(3, self.call_value)
        w.blob(4, self.data)
        w.integer(5, self.call_token_value)
        w.integer(6, self.token_id)
        return bytes(w.buffer)

    @classmethod
    def decode(cls, data: bytes) -> TriggerSmartContract:
        values: dict[int, int | bytes] = dict(_fields(data))
        _only(values, {1, 2, 3, 4, 5, 6}, cls.TYPE)
        return cls(
            owner_address=_blob(values.get(1, b"")),
            contract_address=_blob(values.get(2, b"")),
            call_value=_int64(values.get(3, 0)),
            data=_blob(values.get(4, b"")),
            call_token_value=_int64(values.get(5, 0)),
            token_id=_int64(values.get(6, 0)),
        )


ContractParameter = TransferContract | TransferAssetContract | TriggerSmartContract

# Transaction.Contract.ContractType numbers from Tron.proto.
CONTRACT_TYPES: dict[str, tuple[int, type[ContractParameter]]] = {
    "TransferContract": (1, TransferContract),
    "TransferAssetContract": (2, TransferAssetContract),
    "TriggerSmartContract": (31, TriggerSmartContract),
}
_TYPE_BY_NUMBER = {number: name for name, (number, _) in CONTRACT_TYPES.items()}


def type_url(contract_type: str) -> str:
    return f"type.googleapis.com/protocol.{contract_type}"


def _only(values: Mapping[int, object], known: set[int], what: str) -> None:
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{what}: unsupported field(s) {sorted(unknown)}")


@dataclass(frozen=True)
class Contract:
    """``Transaction.Contract``: the parameter travels as a ``google.protobuf.Any``."""

    parameter: ContractParameter
    type_url: str = ""
    permission_id: int = 0

    @property
    def type(self) -> str:
        return self.parameter.TYPE

    def encode(self) -> bytes:
        number, _ = CONTRACT_TYPES[self.type]
        any_value = _Writer()
        any_value.blob(1, self.type_url.encode())
        any_value.blob(2, self.parameter.encode())
        w = _Writer()
        w.integer(1, number)
        w.message(2, bytes(any_value.buffer))
        w.integer(5, self.permission_id)
        return bytes(w.buffer)

    @classmethod
    def decode(cls, data: bytes) -> Contract:
        values: dict[int, int | bytes] = dict(_fields(data))
        _only(values, {1, 2, 5}, "Transaction.Contract")
        number = _int64(values.get(1, 0))
        if number not in _TYPE_BY_NUMBER:
            raise ValueError(f"unsupported contract type {number}")
        name = _TYPE_BY_NUMBER[number]
        any_fields: dict[int, int | bytes] = dict(_fields(_blob(values.get(2, b""))))
        _only(any_fields, {1, 2}, "google.protobuf.Any")
        parameter = CONTRACT_TYPES[name][1].decode(_blob(any_fields.get(2, b"")))
        return cls(
            parameter=parameter,
            type_url=_blob(any_fields.get(1, b"")).decode(),
            permission_id=_int64(values.get(5, 0)),
        )


# --- transactions ----------------------------------------------------------------------------


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

    def encode(self) -> bytes:
        w = _Writer()
        w.blob(1, self.ref_block_bytes)
        w.integer(3, self.ref_block_num)
        w.blob(4, self.ref_block_hash)
        w.integer(8, self.expiration)
        w.blob(10, self.data)
        for contract in self.contracts:
            w.message(11, contract.encode())
        w.integer(14, self.timestamp)
        w.integer(18, self.fee_limit)
        return bytes(w.buffer)

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
        scalars: dict[int, int | bytes] = {}
        contracts: list[Contract] = []
        for number, value in _fields(data):
            if number == 11:
                contracts.append(Contract.decode(_blob(value)))
            else:
                scalars[number] = value
        _only(scalars, {1, 3, 4, 8, 10, 14, 18}, "Transaction.raw")
        raw = cls(
            contracts=tuple(contracts),
            ref_block_bytes=_blob(scalars.get(1, b"")),
            ref_block_num=_int64(scalars.get(3, 0)),
            ref_block_hash=_blob(scalars.get(4, b"")),
            expiration=_int64(scalars.get(8, 0)),
            data=_blob(scalars.get(10, b"")),
            timestamp=_int64(scalars.get(14, 0)),
            fee_limit=_int64(scalars.get(18, 0)),
        )
        if raw.encode() != data:
            raise ValueError("non-canonical Transaction.raw encoding")
        return raw

    @property
    def owner_address(self) -> bytes:
        return self.contracts[0].parameter.owner_address if self.contracts else b""


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
        w = _Writer()
        w.message(1, self.raw.encode())
        for signature in self.signatures:
            w.blob(2, signature)
        if self.contract_ret:
            result = _Writer()
            result.integer(3, CONTRACT_RESULTS.index(self.contract_ret))
            w.message(5, bytes(result.buffer))
        return bytes(w.buffer)

    @classmethod
    def decode(cls, data: bytes) -> SignedTransaction:
        """A whole ``Transaction`` as ``wallet/broadcasthex`` receives it.

        Results (field 5) are the node's to set after execution; what a sender put there is
        dropped, as java-tron's ``TransactionCapsule`` does when it executes the transaction.
        """
        raw: RawTransaction | None = None
        signatures: list[bytes] = []
        for number, value in _fields(data):
            if number == 1:
                if raw is not None:
                    raise ValueError("Transaction: raw_data given twice")
                raw = RawTransaction.decode(_blob(value))
            elif number == 2:
                signatures.append(_blob(value))
            elif number != 5:
                raise ValueError(f"Transaction: unsupported field {number}")
        if raw is None:
            raise ValueError("Transaction: no raw_data")
        return cls(raw=raw, signatures=tuple(signatures))


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


# --- blocks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockHeaderRaw:
    """``BlockHeader.raw``; the block ID is the number (8 bytes) + sha256(these bytes)[8:]."""

    timestamp: int
    tx_trie_root: bytes
    parent_hash: bytes
    number: int
    witness_address: bytes
    version: int

    def encode(self) -> bytes:
        w = _Writer()
        w.integer(1, self.timestamp)
        w.blob(2, self.tx_trie_root)
        w.blob(3, self.parent_hash)
        w.integer(7, self.number)
        w.blob(9, self.witness_address)
        w.integer(10, self.version)
        return bytes(w.buffer)

    @classmethod
    def decode(cls, data: bytes) -> BlockHeaderRaw:
        values: dict[int, int | bytes] = dict(_fields(data))
        _only(values, {1, 2, 3, 7, 9, 10}, "BlockHeader.raw")
        return cls(
            timestamp=_int64(values.get(1, 0)),
            tx_trie_root=_blob(values.get(2, b"")),
            parent_hash=_blob(values.get(3, b"")),
            number=_int64(values.get(7, 0)),
            witness_address=_blob(values.get(9, b"")),
            version=_int64(values.get(10, 0)),
        )

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()

    @property
    def block_id(self) -> bytes:
        return self.number.to_bytes(8, "big") + self.hash[8:]


def merkle_root(leaves: list[bytes]) -> bytes:
    """java-tron's txTrieRoot: pairwise sha256 up the tree, an odd last node moves up as is."""
    if not leaves:
        return bytes(32)
    level = leaves
    while len(level) > 1:
        paired = [
            hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


# --- addresses -------------------------------------------------------------------------------


def address_from_base58(value: str) -> bytes:
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


# --- signatures ------------------------------------------------------------------------------


class SignatureError(ValueError):
    pass


def recover_signer(txid: bytes, signature: bytes) -> bytes:
    """The 21-byte address whose key made ``signature`` (r||s||v) over ``txid``.

    v is 0/1 (tronpy, java-tron) or 27/28 (TronWeb). java-tron also tolerates 29..34 (recovery
    ids 2 and 3, "compressed" flags) which no wallet produces; they are refused here.
    """
    if len(signature) < 65:
        raise SignatureError(f"Signature size is {len(signature)}")
    v = signature[64]
    if v not in (0, 1, 27, 28):
        raise SignatureError(f"Header byte out of range: {v + 27 if v < 27 else v}")
    try:
        public_key = Signature(signature[:65]).recover_public_key_from_msg_hash(txid)
    except BadSignature as error:
        raise SignatureError(str(error)) from error
    address: bytes = public_key.to_address()
    return address


# --- JSON (java-tron JsonFormat) -------------------------------------------------------------

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
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a hex string")
    text = value[2:] if value.startswith(("0x", "0X")) else value
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{name}: invalid hex") from None


def json_int(value: object, name: str) -> int:
    # JSON numbers only (bool is an int in Python but not in JSON).
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
                permission_id=json_int(item.get("Permission_id") or 0, "Permission_id"),
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
