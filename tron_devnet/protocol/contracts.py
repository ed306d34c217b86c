"""The contracts a payment sends (TRX, TRC-10, a TRC-20 call) as tronpy's ``tron_pb2`` messages.

The devnet models them as frozen dataclasses (typed, comparable, hashable); ``message()`` builds
the generated protobuf message and ``decode`` parses one, refusing every field the devnet does
not model, known to ``tron_pb2`` (``Contract.provider``, ``Transaction.raw.auths``) or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from google.protobuf.unknown_fields import UnknownFieldSet  # type: ignore[import-untyped]
from tronpy.proto import tron_pb2


def serialize(message: Any) -> bytes:
    """A ``tron_pb2`` message's bytes: known fields in number order, proto3 defaults left out."""
    data: bytes = message.SerializeToString(deterministic=True)
    return data


def checked(message: Any, supported: set[int], what: str) -> Any:
    """``message`` itself, or ValueError when it holds a field numbered outside ``supported``.

    Unknown fields are refused whatever their number: with a declared number they came with
    another wire type than the declared one.
    """
    unknown = {field.field_number for field in UnknownFieldSet(message)}
    present = {descriptor.number for descriptor, _ in message.ListFields()}
    unsupported = (present - supported) | unknown
    if unsupported:
        raise ValueError(f"{what}: unsupported field(s) {sorted(unsupported)}")
    return message


def parse(message_type: Any, data: bytes, supported: set[int], what: str) -> Any:
    """``data`` as a ``message_type`` (a ``tron_pb2`` class) with ``supported`` fields only.

    Raises ValueError for a malformed encoding too (the runtime's DecodeError is no ValueError).
    """
    try:
        message = message_type.FromString(data)
    except DecodeError as error:
        raise ValueError(f"{what}: {error}") from None
    return checked(message, supported, what)


@dataclass(frozen=True)
class TransferContract:
    """TRX transfer (balance_contract.proto)."""

    owner_address: bytes
    to_address: bytes
    amount: int

    TYPE = "TransferContract"

    def message(self) -> Any:
        return tron_pb2.TransferContract(
            owner_address=self.owner_address, to_address=self.to_address, amount=self.amount
        )

    def encode(self) -> bytes:
        return serialize(self.message())

    @classmethod
    def decode(cls, data: bytes) -> TransferContract:
        parsed = parse(tron_pb2.TransferContract, data, {1, 2, 3}, cls.TYPE)
        return cls(parsed.owner_address, parsed.to_address, parsed.amount)


@dataclass(frozen=True)
class TransferAssetContract:
    """TRC-10 transfer (transfer_asset_contract.proto); asset_name is the token id as text."""

    asset_name: bytes
    owner_address: bytes
    to_address: bytes
    amount: int

    TYPE = "TransferAssetContract"

    def message(self) -> Any:
        return tron_pb2.TransferAssetContract(
            asset_name=self.asset_name,
            owner_address=self.owner_address,
            to_address=self.to_address,
            amount=self.amount,
        )

    def encode(self) -> bytes:
        return serialize(self.message())

    @classmethod
    def decode(cls, data: bytes) -> TransferAssetContract:
        parsed = parse(tron_pb2.TransferAssetContract, data, {1, 2, 3, 4}, cls.TYPE)
        return cls(parsed.asset_name, parsed.owner_address, parsed.to_address, parsed.amount)


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

    def message(self) -> Any:
        return tron_pb2.TriggerSmartContract(
            owner_address=self.owner_address,
            contract_address=self.contract_address,
            call_value=self.call_value,
            data=self.data,
            call_token_value=self.call_token_value,
            token_id=self.token_id,
        )

    def encode(self) -> bytes:
        return serialize(self.message())

    @classmethod
    def decode(cls, data: bytes) -> TriggerSmartContract:
        parsed = parse(tron_pb2.TriggerSmartContract, data, {1, 2, 3, 4, 5, 6}, cls.TYPE)
        return cls(
            owner_address=parsed.owner_address,
            contract_address=parsed.contract_address,
            call_value=parsed.call_value,
            data=parsed.data,
            call_token_value=parsed.call_token_value,
            token_id=parsed.token_id,
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


@dataclass(frozen=True)
class Contract:
    """``Transaction.Contract``: the parameter travels as a ``google.protobuf.Any``."""

    parameter: ContractParameter
    type_url: str = ""
    permission_id: int = 0

    @property
    def type(self) -> str:
        return self.parameter.TYPE

    def message(self) -> Any:
        """Raises ValueError when ``permission_id`` is past int32 (the field's type)."""
        number, _ = CONTRACT_TYPES[self.type]
        contract = tron_pb2.Transaction.Contract(type=number, Permission_id=self.permission_id)
        contract.parameter.type_url = self.type_url
        contract.parameter.value = self.parameter.encode()
        # The Any is present even when both its fields are empty, as java-tron writes it.
        contract.parameter.SetInParent()
        return contract

    def encode(self) -> bytes:
        return serialize(self.message())

    @classmethod
    def from_message(cls, contract: Any) -> Contract:
        """A parsed ``tron_pb2.Transaction.Contract``; ValueError for what the devnet lacks."""
        checked(contract, {1, 2, 5}, "Transaction.Contract")
        number = contract.type
        if number not in _TYPE_BY_NUMBER:
            raise ValueError(f"unsupported contract type {number}")
        name = _TYPE_BY_NUMBER[number]
        checked(contract.parameter, {1, 2}, "google.protobuf.Any")
        parameter = CONTRACT_TYPES[name][1].decode(contract.parameter.value)
        return cls(
            parameter=parameter,
            type_url=contract.parameter.type_url,
            permission_id=contract.Permission_id,
        )
