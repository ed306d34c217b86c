"""A request as the handlers see it: parameters from the query string and the JSON body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tron_devnet.chain import Chain
from tron_devnet.protocol.addresses import address_from_base58
from tron_devnet.protocol.transaction_json import hex_bytes, json_int

# A handler answers one path: what it returns is sent back as JSON.
Handler = Callable[[Chain, "Request"], Any]


class BadRequest(Exception):
    pass


class Request:
    def __init__(self, method: str, params: dict[str, Any], solid: bool) -> None:
        self.method = method
        self.params = params
        self.solid = solid

    @property
    def visible(self) -> bool:
        # Util.getVisible (GET: "true") and Util.getVisiblePost (JSON true or "true").
        value = self.params.get("visible", False)
        return value is True or (isinstance(value, str) and value.lower() == "true")

    def integer(self, name: str, default: int | None = None) -> int:
        value = self.params.get(name)
        if value is None or value == "":
            if default is None:
                raise BadRequest(f"{name} is required")
            return default
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
        try:
            return json_int(value, name)
        except ValueError as error:
            raise BadRequest(str(error)) from None

    def text(self, name: str, default: str = "") -> str:
        value = self.params.get(name, default)
        if value is None:
            return default
        if isinstance(value, bool | dict | list):
            raise BadRequest(f"{name}: expected a string")
        return str(value)

    def address(self, name: str) -> bytes:
        return parse_address(self.text(name), name)

    def blob(self, name: str) -> bytes:
        try:
            return hex_bytes(self.text(name), name)
        except ValueError as error:
            raise BadRequest(str(error)) from None


def parse_address(value: str, name: str = "address") -> bytes:
    """Base58check or ``41…`` hex, whatever ``visible`` says: clients mix them up freely."""
    try:
        if len(value) == 34 and value.startswith("T"):
            return address_from_base58(value)
        raw = bytes.fromhex(value[2:] if value.startswith("0x") else value)
    except ValueError:
        raise BadRequest(f"invalid {name}: {value!r}") from None
    if len(raw) == 20:
        raw = b"\x41" + raw
    if len(raw) != 21 or raw[0] != 0x41:
        raise BadRequest(f"invalid {name}: {value!r}")
    return raw
