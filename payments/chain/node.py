"""The full node's HTTP API (java-tron, TronGrid, or the devnet): reads only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx


class NodeUnavailable(Exception):
    """The node did not answer, or answered with something that is not what java-tron sends
    (not JSON, the wrong JSON type, an HTTP error status such as TronGrid's 429)."""


class NodeClient:
    """Reads from a TRON full node's HTTP API (java-tron, TronGrid, or the devnet).

    java-tron takes a POST with a JSON body on every ``wallet/*`` and ``walletsolidity/*`` path
    and answers ``{}`` for an unknown transaction or a block it does not have. Addresses come
    back in base58 (``visible``), which is what payments store. One client keeps its
    connection open between calls (the chain watcher makes several per block); it is meant for
    one thread at a time.
    """

    MAX_ANSWER_BYTES = 16 * 1024 * 1024

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.requests = 0  # made so far (TronGrid counts them against a daily quota)
        self._http: httpx.Client | None = None

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _client(self) -> httpx.Client:
        if self._http is None:
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if self.api_key:
                headers["TRON-PRO-API-KEY"] = self.api_key
            self._http = httpx.Client(headers=headers, timeout=self.timeout)
        return self._http

    def post(self, path: str, payload: Mapping[str, Any]) -> Any:
        """The JSON answer to a POST of ``payload`` (any JSON type). Raises NodeUnavailable."""
        self.requests += 1
        try:
            with self._client().stream(
                "POST", f"{self.url}/{path}", content=json.dumps(payload).encode()
            ) as response:
                if response.status_code != 200:
                    raise NodeUnavailable(f"{path}: HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.MAX_ANSWER_BYTES:
                        raise NodeUnavailable(f"{path}: the answer is larger than we read")
        except httpx.HTTPError as error:  # refused, reset, cut short, timed out
            self.close()
            raise NodeUnavailable(f"{path}: {error!r}") from error
        try:
            return json.loads(body)
        except ValueError as error:
            raise NodeUnavailable(f"{path}: the answer is not JSON") from error

    def call(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A call java-tron answers with a JSON object (most of them)."""
        answer = self.post(path, payload)
        if not isinstance(answer, dict):
            raise NodeUnavailable(f"{path}: the answer is not a JSON object")
        return answer

    def transaction(self, txid: str) -> dict[str, Any]:
        return self.call("wallet/gettransactionbyid", {"value": txid, "visible": True})

    def transaction_info(self, txid: str) -> dict[str, Any]:
        return self.call("wallet/gettransactioninfobyid", {"value": txid, "visible": True})

    def solid_transaction(self, txid: str) -> dict[str, Any]:
        return self.call("walletsolidity/gettransactionbyid", {"value": txid, "visible": True})

    def solid_transaction_info(self, txid: str) -> dict[str, Any]:
        return self.call("walletsolidity/gettransactioninfobyid", {"value": txid, "visible": True})

    def block_header(self, *, solid: bool = False) -> dict[str, Any]:
        """The head (or solidified head) block without its transactions: ``getblock``."""
        api = "walletsolidity" if solid else "wallet"
        return self.call(f"{api}/getblock", {"detail": False, "visible": True})

    def block(self, number: int, *, solid: bool = False) -> dict[str, Any]:
        """Block ``number`` with its transactions, ``{}`` while the node does not have it (or,
        with ``solid``, while it is not solidified)."""
        api = "walletsolidity" if solid else "wallet"
        return self.call(f"{api}/getblockbynum", {"num": number, "visible": True})

    def block_transaction_infos(self, number: int, *, solid: bool = False) -> list[Any]:
        """The receipts (``TransactionInfo``) of block ``number``'s transactions, in order."""
        api = "walletsolidity" if solid else "wallet"
        path = f"{api}/gettransactioninfobyblocknum"
        answer = self.post(path, {"num": number, "visible": True})
        if isinstance(answer, dict) and not answer:
            return []  # some versions print {} rather than [] for a block without any
        if not isinstance(answer, list):
            raise NodeUnavailable(f"{path}: the answer is not a JSON array")
        return answer


def node_client() -> NodeClient:
    """The node of ``TRON_API_URL`` (with ``TRON_API_KEY`` for TronGrid)."""
    from django.conf import settings

    return NodeClient(settings.TRON_API_URL, settings.TRON_API_KEY)
