"""The ASGI application: routes, the block producer under the server's lifespan, JSON replies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from tron_devnet.api import accounts, blocks, contracts, devnet, node, transactions
from tron_devnet.api.requests import BadRequest, Handler, Request
from tron_devnet.chain import Chain
from tron_devnet.chain.blocks import now_ms

log = logging.getLogger("tron_devnet")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_BODY_BYTES = 4 * 1024 * 1024  # java-tron's default http max message size


class DevnetApp:
    """ASGI application; ``produce_blocks`` runs the block producer under the server's lifespan."""

    def __init__(self, chain: Chain, *, produce_blocks: bool = True) -> None:
        self.chain = chain
        self.produce_blocks = produce_blocks
        self._producer: asyncio.Task[None] | None = None
        self.routes: dict[str, Handler] = {
            "wallet/getnodeinfo": node.get_node_info,
            "wallet/getchainparameters": node.get_chain_parameters,
            "wallet/getsignweight": transactions.get_sign_weight,
            "wallet/broadcasttransaction": transactions.broadcast_transaction,
            "wallet/triggersmartcontract": contracts.trigger_smart_contract,
            "wallet/triggerconstantcontract": contracts.trigger_constant_contract,
            "wallet/getcontract": contracts.get_contract,
            "wallet/getcontractinfo": contracts.get_contract_info,
            "wallet/broadcasthex": transactions.broadcast_hex,
            "wallet/getaccountresource": accounts.get_account_resource,
            "wallet/getaccountnet": accounts.get_account_net,
            "wallet/getenergyprices": node.get_energy_prices,
            "wallet/getbandwidthprices": node.get_bandwidth_prices,
            "wallet/getmemofee": node.get_memo_fee,
            "devnet/faucet": devnet.faucet,
            "devnet/mine": devnet.mine,
            "devnet/fault": devnet.fault,
        }
        # Reads answer from the head state under wallet/ and the solidified one under
        # walletsolidity/ (a full node serves both on one port).
        for name, handler in {
            "getnowblock": blocks.get_now_block,
            "getblockbynum": blocks.get_block_by_num,
            "getblockbyid": blocks.get_block_by_id,
            "getblock": blocks.get_block,
            "getblockbylimitnext": blocks.get_block_by_limit_next,
            "getblockbylatestnum": blocks.get_block_by_latest_num,
            "gettransactioncountbyblocknum": transactions.get_transaction_count_by_block_num,
            "gettransactionbyid": transactions.get_transaction_by_id,
            "gettransactioninfobyid": transactions.get_transaction_info_by_id,
            "gettransactioninfobyblocknum": transactions.get_transaction_info_by_block_num,
            "getaccount": accounts.get_account,
            "getassetissuebyid": accounts.get_asset_issue_by_id,
        }.items():
            self.routes[f"wallet/{name}"] = handler
            self.routes[f"walletsolidity/{name}"] = handler
        self.routes["walletsolidity/triggerconstantcontract"] = contracts.trigger_constant_contract
        self.routes["wallet/estimateenergy"] = contracts.estimate_energy
        self.routes["walletsolidity/estimateenergy"] = contracts.estimate_energy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.produce_blocks:
                    self._producer = asyncio.create_task(self._produce_blocks())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._producer:
                    self._producer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._producer
                log.info("TRON devnet stopped at block %s", self.chain.head().num)
                self.chain.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _produce_blocks(self) -> None:
        interval_ms = int(self.chain.config.block_seconds * 1000)
        while True:
            due = self.chain.head().timestamp + interval_ms
            await asyncio.sleep(max(0.0, (due - now_ms()) / 1000))
            try:
                if now_ms() >= self.chain.head().timestamp + interval_ms:
                    self.chain.produce_block()
            except Exception:
                # A full disk or a locked file must not end block production for good.
                log.exception("block production failed; retrying")
                await asyncio.sleep(1)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            await _respond(send, 204, b"")
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _respond_json(send, {"Error": "body size is too big"})
                return
            if not message.get("more_body"):
                break
        path = scope["path"].strip("/")
        handler = self.routes.get(path)
        if handler is None or method not in ("GET", "POST"):
            await _respond(send, 404, b"Not Found", content_type=b"text/plain")
            return
        try:
            params = self._params(scope, method, bytes(body))
            request = Request(method, params, solid=path.startswith("walletsolidity/"))
            result = handler(self.chain, request)
        except (BadRequest, ValueError) as error:
            # Util.processError: the exception class and message, HTTP 200.
            result = {"Error": f"class java.lang.IllegalArgumentException : {error}"}
        except Exception as error:
            log.exception("%s failed", path)
            result = {"Error": f"class java.lang.RuntimeException : {error}"}
        await _respond_json(send, result)

    @staticmethod
    def _params(scope: Scope, method: str, body: bytes) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(scope.get("query_string", b"").decode()))
        if method == "POST" and body.strip():
            try:
                payload = json.loads(body)
            except json.JSONDecodeError as error:
                raise BadRequest(f"invalid JSON: {error.msg}") from None
            if not isinstance(payload, dict):
                raise BadRequest("expected a JSON object")
            params.update(payload)
        return params


async def _respond(
    send: Send, status: int, body: bytes, content_type: bytes = b"application/json"
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                # Browser wallets and pages on another origin call the devnet directly.
                (b"access-control-allow-origin", b"*"),
                (b"access-control-allow-headers", b"*"),
                (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _respond_json(send: Send, payload: object) -> None:
    await _respond(send, 200, json.dumps(payload, separators=(",", ":")).encode())
