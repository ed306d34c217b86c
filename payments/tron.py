"""TRON: addresses, and reads from a full node's HTTP API."""

from __future__ import annotations

import http.client
import json
import urllib.request
from collections.abc import Mapping
from typing import Any

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


# --- the full node's HTTP API -----------------------------------------------------------------


class NodeUnavailable(Exception):
    """The node did not answer, or answered with something that is not a JSON object."""


class NodeClient:
    """Reads from a TRON full node's HTTP API (java-tron, TronGrid, or the devnet).

    java-tron takes a POST with a JSON body on every ``wallet/*`` and ``walletsolidity/*`` path
    and answers ``{}`` for an unknown transaction. Addresses come back in base58
    (``visible``), which is what payments store.
    """

    MAX_ANSWER_BYTES = 16 * 1024 * 1024

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def call(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["TRON-PRO-API-KEY"] = self.api_key
        request = urllib.request.Request(  # noqa: S310  (TRON_API_URL: http(s), system check)
            f"{self.url}/{path}", data=json.dumps(payload).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read(self.MAX_ANSWER_BYTES)
        except (OSError, http.client.HTTPException) as error:  # URLError is an OSError
            raise NodeUnavailable(f"{path}: {error}") from error
        try:
            answer = json.loads(body)
        except ValueError as error:
            raise NodeUnavailable(f"{path}: the answer is not JSON") from error
        if not isinstance(answer, dict):
            raise NodeUnavailable(f"{path}: the answer is not a JSON object")
        return answer

    def transaction(self, txid: str) -> dict[str, Any]:
        return self.call("wallet/gettransactionbyid", {"value": txid, "visible": True})

    def transaction_info(self, txid: str) -> dict[str, Any]:
        return self.call("wallet/gettransactioninfobyid", {"value": txid, "visible": True})

    def solid_transaction_info(self, txid: str) -> dict[str, Any]:
        return self.call("walletsolidity/gettransactioninfobyid", {"value": txid, "visible": True})


def node_client() -> NodeClient:
    """The node of ``TRON_API_URL`` (with ``TRON_API_KEY`` for TronGrid)."""
    from django.conf import settings

    return NodeClient(settings.TRON_API_URL, settings.TRON_API_KEY)
