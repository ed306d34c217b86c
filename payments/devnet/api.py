"""The devnet's HTTP API: the part of java-tron's full-node API that tronpy and TronWeb use.

A bare ASGI application (served by uvicorn, like the web process) rather than Django views:
the devnet is a separate process with its own port and its own state file, it must answer the
way a Jetty servlet of java-tron does (HTTP 200 and ``{}`` for "not found", ``{"Error": …}``
for bad input, GET with a query string and POST with JSON on every path), and it needs nothing
from Django's request machinery. Everything runs on the event loop's one thread, so the chain
(SQLite) is never touched concurrently; block production is a task on the same loop.

Paths: ``/wallet/*`` (head state), ``/walletsolidity/*`` (solidified state), and the devnet's
own ``/devnet/faucet``, ``/devnet/mine`` and ``/devnet/fault``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from tronpy.keys import keccak256

from payments.devnet import jsonformat, trc20
from payments.devnet.chain import (
    DEFAULT_EXPIRATION_MS,
    TOKENS,
    BroadcastError,
    Chain,
    ContractValidateError,
    FaultError,
    now_ms,
)
from payments.tron_protocol import (
    Contract,
    RawTransaction,
    SignatureError,
    SignedTransaction,
    TriggerSmartContract,
    address_from_base58,
    hex_bytes,
    json_int,
    raw_to_json,
    recover_signer,
    transaction_from_json,
    transaction_to_json,
    type_url,
)

log = logging.getLogger("payments.devnet")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Params = Mapping[str, Any]
Handler = Callable[["Request"], Any]

MAX_BODY_BYTES = 4 * 1024 * 1024  # java-tron's default http max message size
BLOCK_LIMIT_NUM = 100  # the block-range servlets' cap
MAX_MEMO_FEE = 1_000_000_000  # ProposalUtil: MEMO_FEE is 0 .. 1,000,000,000 sun


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


class DevnetApp:
    """ASGI application; ``produce_blocks`` runs the block producer under the server's lifespan."""

    def __init__(self, chain: Chain, *, produce_blocks: bool = True) -> None:
        self.chain = chain
        self.produce_blocks = produce_blocks
        self._producer: asyncio.Task[None] | None = None
        self.routes: dict[str, Handler] = {
            "wallet/getnodeinfo": self.get_node_info,
            "wallet/getchainparameters": self.get_chain_parameters,
            "wallet/getsignweight": self.get_sign_weight,
            "wallet/broadcasttransaction": self.broadcast_transaction,
            "wallet/triggersmartcontract": self.trigger_smart_contract,
            "wallet/triggerconstantcontract": self.trigger_constant_contract,
            "wallet/getcontract": self.get_contract,
            "wallet/getcontractinfo": self.get_contract_info,
            "wallet/broadcasthex": self.broadcast_hex,
            "wallet/getaccountresource": self.get_account_resource,
            "wallet/getaccountnet": self.get_account_net,
            "wallet/getenergyprices": self.get_energy_prices,
            "wallet/getbandwidthprices": self.get_bandwidth_prices,
            "wallet/getmemofee": self.get_memo_fee,
            "devnet/faucet": self.faucet,
            "devnet/mine": self.mine,
            "devnet/fault": self.fault,
        }
        # Reads answer from the head state under wallet/ and the solidified one under
        # walletsolidity/ (a full node serves both on one port).
        for name, handler in {
            "getnowblock": self.get_now_block,
            "getblockbynum": self.get_block_by_num,
            "getblockbyid": self.get_block_by_id,
            "getblock": self.get_block,
            "getblockbylimitnext": self.get_block_by_limit_next,
            "getblockbylatestnum": self.get_block_by_latest_num,
            "gettransactioncountbyblocknum": self.get_transaction_count_by_block_num,
            "gettransactionbyid": self.get_transaction_by_id,
            "gettransactioninfobyid": self.get_transaction_info_by_id,
            "gettransactioninfobyblocknum": self.get_transaction_info_by_block_num,
            "getaccount": self.get_account,
            "getassetissuebyid": self.get_asset_issue_by_id,
        }.items():
            self.routes[f"wallet/{name}"] = handler
            self.routes[f"walletsolidity/{name}"] = handler
        self.routes["walletsolidity/triggerconstantcontract"] = self.trigger_constant_contract
        self.routes["wallet/estimateenergy"] = self.estimate_energy
        self.routes["walletsolidity/estimateenergy"] = self.estimate_energy

    # --- ASGI ----------------------------------------------------------------------------

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
            result = handler(Request(method, params, solid=path.startswith("walletsolidity/")))
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

    # --- node --------------------------------------------------------------------------------

    def get_node_info(self, request: Request) -> dict[str, Any]:
        head = self.chain.head()
        solid = self.chain.block_by_num(self.chain.solid_num)
        assert solid is not None
        return {
            "beginSyncNum": head.num,
            "block": f"Num:{head.num},ID:{head.block_id.hex()}",
            "solidityBlock": f"Num:{solid.num},ID:{solid.block_id.hex()}",
            "currentConnectCount": 0,
            "activeConnectCount": 0,
            "passiveConnectCount": 0,
            "totalFlow": 0,
            "peerList": [],
            "configNodeInfo": {"codeVersion": "btt-creators-devnet", "p2pVersion": "0"},
            "machineInfo": {},
            "cheatWitnessInfoMap": {},
        }

    def get_chain_parameters(self, request: Request) -> dict[str, Any]:
        # What the devnet enforces; the fees it does not charge are reported as zero, which
        # JsonFormat prints as a key without a value. The memo fee is whatever a fault set.
        values = {
            "getMaintenanceTimeInterval": 21_600_000,
            "getCreateAccountFee": 0,
            "getTransactionFee": 0,
            "getCreateNewAccountFeeInSystemContract": 0,
            "getEnergyFee": 0,
            "getMemoFee": self.chain.memo_fee,
            "getAllowSameTokenName": 1,
            "getAllowMultiSign": 1,
            "getAllowTvmTransferTrc10": 1,
            "getForbidTransferToContract": 1,
            "getMaxFeeLimit": 15_000_000_000,
        }
        return {
            "chainParameter": [
                {"key": key, "value": value} if value else {"key": key}
                for key, value in values.items()
            ]
        }

    # --- blocks ------------------------------------------------------------------------------

    def get_now_block(self, request: Request) -> dict[str, Any]:
        num = self.chain.solid_num if request.solid else self.chain.head().num
        return self._block_json(num, request)

    def get_block_by_num(self, request: Request) -> dict[str, Any]:
        return self._block_json(request.integer("num"), request)

    def get_block_by_id(self, request: Request) -> dict[str, Any]:
        block = self.chain.block_by_id(request.blob("value"), request.solid)
        return jsonformat.block_to_json(block, request.visible) if block else {}

    def get_block(self, request: Request) -> dict[str, Any]:
        """``wallet/getblock``: ``id_or_num`` (empty for the head) and ``detail``."""
        id_or_num = request.text("id_or_num")
        detail = request.params.get("detail") in (True, "true")
        if not id_or_num:
            num = self.chain.solid_num if request.solid else self.chain.head().num
            return self._block_json(num, request, detail)
        if id_or_num.isdigit():
            return self._block_json(int(id_or_num), request, detail)
        block = self.chain.block_by_id(request.blob("id_or_num"), request.solid)
        return jsonformat.block_to_json(block, request.visible, detail) if block else {}

    def _block_json(self, num: int, request: Request, detail: bool = True) -> dict[str, Any]:
        block = self.chain.block_by_num(num, request.solid)
        return jsonformat.block_to_json(block, request.visible, detail) if block else {}

    def _block_list(self, numbers: range, request: Request) -> dict[str, Any]:
        """``Util.printBlockList``: the blocks that exist, in order, under ``block``."""
        blocks = []
        for num in numbers:
            block = self.chain.block_by_num(num, request.solid)
            if block is None:
                break
            blocks.append(jsonformat.block_to_json(block, request.visible))
        return {"block": blocks}

    def get_block_by_limit_next(self, request: Request) -> dict[str, Any]:
        """``GetBlockByLimitNextServlet``: blocks ``startNum`` .. ``endNum`` - 1, at most 100."""
        start, end = request.integer("startNum", 0), request.integer("endNum", 0)
        if not (end > 0 and end > start and end - start <= BLOCK_LIMIT_NUM):
            return {}
        return self._block_list(range(max(start, 0), end), request)

    def get_block_by_latest_num(self, request: Request) -> dict[str, Any]:
        """``GetBlockByLatestNumServlet``: the newest ``num`` (< 100) blocks, oldest first."""
        count = request.integer("num", 0)
        if not 0 < count < BLOCK_LIMIT_NUM:
            return {}
        head = self.chain.solid_num if request.solid else self.chain.head().num
        return self._block_list(range(max(0, head - count + 1), head + 1), request)

    # --- transactions ------------------------------------------------------------------------

    def get_transaction_by_id(self, request: Request) -> dict[str, Any]:
        stored = self.chain.transaction(request.blob("value"), request.solid)
        return transaction_to_json(stored.transaction, request.visible) if stored else {}

    def get_transaction_info_by_id(self, request: Request) -> dict[str, Any]:
        stored = self.chain.transaction(request.blob("value"), request.solid)
        return jsonformat.transaction_info_to_json(stored, request.visible) if stored else {}

    def get_transaction_info_by_block_num(self, request: Request) -> list[dict[str, Any]]:
        num = request.integer("num")
        if request.solid and num > self.chain.solid_num:
            return []
        return [
            jsonformat.transaction_info_to_json(stored, request.visible)
            for stored in self.chain.transactions_in_block(num)
        ]

    def get_transaction_count_by_block_num(self, request: Request) -> dict[str, Any]:
        num = request.integer("num")
        # Wallet.getTransactionCountByBlockNum: 0 for a block the node does not have.
        if self.chain.block_by_num(num, request.solid) is None:
            return {"count": 0}
        return {"count": len(self.chain.transactions_in_block(num))}

    def _transaction(self, request: Request) -> SignedTransaction:
        try:
            return transaction_from_json(request.params, request.visible)
        except ValueError as error:
            raise BadRequest(str(error)) from None

    def broadcast_transaction(self, request: Request) -> dict[str, Any]:
        """``BroadcastServlet``: the Return message plus the txID."""
        transaction = self._transaction(request)
        txid = transaction.txid.hex()
        try:
            self.chain.broadcast(transaction)
        except BroadcastError as error:
            log.info("broadcast %s refused: %s %s", txid, error.code, error.message)
            return {
                "code": error.code,
                "txid": txid,
                "message": jsonformat.name_text(error.message, request.visible),
            }
        return {"result": True, "txid": txid}

    def broadcast_hex(self, request: Request) -> dict[str, Any]:
        """``BroadcastHexServlet``: a whole protobuf ``Transaction`` in hex.

        Unlike ``broadcasttransaction`` the answer always carries ``result``, ``code`` and a
        plain-text ``message``, plus the transaction as a JSON *string* printed with
        ``visible`` true (TronWeb parses it).
        """
        transaction = SignedTransaction.decode(request.blob("transaction"))
        code, message = "SUCCESS", ""
        try:
            self.chain.broadcast(transaction)
        except BroadcastError as error:
            code, message = error.code, error.message
        printed: dict[str, Any] = {"raw_data": raw_to_json(transaction.raw, True)}
        if transaction.signatures:
            printed["signature"] = [signature.hex() for signature in transaction.signatures]
        return {
            "result": code == "SUCCESS",
            "code": code,
            "message": message,
            "transaction": json.dumps(printed, separators=(",", ":")),
            "txid": transaction.txid.hex(),
        }

    def get_sign_weight(self, request: Request) -> dict[str, Any]:
        """``Wallet.getTransactionSignWeight`` for accounts with the default permissions."""
        transaction = self._transaction(request)
        raw = transaction.raw
        out: dict[str, Any] = {}
        owner = raw.owner_address
        result: dict[str, Any]
        if not raw.contracts:
            result = {"code": "OTHER_ERROR", "message": "No contract!"}
        elif self.chain.account(owner) is None:
            result = {"code": "PERMISSION_ERROR", "message": "Account does not exist!"}
        elif raw.contracts[0].permission_id not in (0, 2):
            result = {"code": "PERMISSION_ERROR", "message": "Permission for this, does not exist!"}
        else:
            owner_permission, active = jsonformat.permissions_to_json(owner, request.visible)
            out["permission"] = owner_permission if raw.contracts[0].permission_id == 0 else active
            weight = 0
            result = {}
            approved = []
            for signature in transaction.signatures:
                try:
                    signer = recover_signer(raw.txid, signature)
                except SignatureError as error:
                    result = {"code": "SIGNATURE_FORMAT_ERROR", "message": str(error)}
                    break
                if signer != owner:
                    result = {
                        "code": "PERMISSION_ERROR",
                        "message": f"{raw.txid.hex()} is signed by "
                        f"{jsonformat.address(signer, True)} but it is not contained of "
                        "permission.",
                    }
                    break
                approved.append(jsonformat.address(signer, request.visible))
                weight += 1
            if not result:
                if approved:
                    out["approved_list"] = approved
                    out["current_weight"] = weight
                result = {"code": "ENOUGH_PERMISSION" if weight else "NOT_ENOUGH_PERMISSION"}
        out["result"] = result
        out["transaction"] = {
            "result": {"result": True},
            "txid": raw.txid.hex(),
            "transaction": transaction_to_json(transaction, request.visible),
        }
        return out

    # --- accounts and tokens -----------------------------------------------------------------

    def get_account(self, request: Request) -> dict[str, Any]:
        account = self.chain.account(request.address("address"), request.solid)
        return jsonformat.account_to_json(account, request.visible) if account else {}

    def get_account_resource(self, request: Request) -> dict[str, Any]:
        """``AccountResourceMessage``; nothing is staked or used up on the devnet."""
        account = self.chain.account(request.address("address"))
        return jsonformat.account_resource_to_json(account) if account else {}

    def get_account_net(self, request: Request) -> dict[str, Any]:
        """``AccountNetMessage``, the bandwidth half of ``getaccountresource``."""
        account = self.chain.account(request.address("address"))
        return jsonformat.account_net_to_json(account) if account else {}

    def get_energy_prices(self, request: Request) -> dict[str, Any]:
        # "since:price" pairs, oldest first; the devnet charges no energy.
        return {"prices": "0:0"}

    def get_bandwidth_prices(self, request: Request) -> dict[str, Any]:
        return {"prices": "0:0"}

    def get_memo_fee(self, request: Request) -> dict[str, Any]:
        """``GetMemoFeePricesServlet``: every memo fee the chain has had, as "since:sun"."""
        return {"prices": ",".join(f"{since}:{fee}" for since, fee in self.chain.memo_fees())}

    def get_asset_issue_by_id(self, request: Request) -> dict[str, Any]:
        if request.text("value") != "1002000":
            return {}
        genesis = self.chain.block_by_num(0)
        assert genesis is not None
        return jsonformat.btt_asset_to_json(genesis.timestamp, request.visible)

    def get_contract(self, request: Request) -> dict[str, Any]:
        if request.address("value") != trc20.BTT_CONTRACT:
            return {}
        return jsonformat.btt_contract_to_json(request.visible)

    def get_contract_info(self, request: Request) -> dict[str, Any]:
        """``SmartContractDataWrapper``; no ``runtimecode``, the contract runs natively."""
        if request.address("value") != trc20.BTT_CONTRACT:
            return {}
        return {"smart_contract": jsonformat.btt_contract_to_json(request.visible)}

    @staticmethod
    def _trigger_refusal(request: Request) -> dict[str, Any] | None:
        """The trigger servlets' ``validateParameter``: both addresses must be set."""
        for name in ("owner_address", "contract_address"):
            value = request.params.get(name)
            if not isinstance(value, str) or not value:
                return {
                    "result": {
                        "code": "OTHER_ERROR",
                        "message": jsonformat.name_text(
                            f"class java.security.InvalidParameterException : {name} isn't set.",
                            request.visible,
                        ),
                    }
                }
        return None

    def _trigger(self, request: Request) -> RawTransaction:
        """The unsigned TriggerSmartContract transaction java-tron builds for these parameters."""
        selector = request.text("function_selector")
        if selector:
            data = bytes(keccak256(selector.encode())[:4]) + request.blob("parameter")
        else:
            data = request.blob("data")
        call = TriggerSmartContract(
            owner_address=request.address("owner_address"),
            contract_address=request.address("contract_address"),
            data=data,
            call_value=request.integer("call_value", 0),
            call_token_value=request.integer("call_token_value", 0),
            token_id=request.integer("token_id", 0),
        )
        head = self.chain.head()
        memo = request.params.get("extra_data")
        return RawTransaction(
            contracts=(Contract(call, type_url(call.TYPE), request.integer("Permission_id", 0)),),
            ref_block_bytes=head.block_id[6:8],
            ref_block_hash=head.block_id[8:16],
            expiration=head.timestamp + DEFAULT_EXPIRATION_MS,
            # Util.setTransactionExtraData: text when visible, hex otherwise.
            data=(
                (memo.encode() if request.visible else hex_bytes(memo, "extra_data"))
                if isinstance(memo, str) and memo
                else b""
            ),
            timestamp=now_ms(),
            fee_limit=request.integer("fee_limit", 0),
        )

    def trigger_smart_contract(self, request: Request) -> dict[str, Any]:
        refusal = self._trigger_refusal(request)
        if refusal:
            return refusal
        raw = self._trigger(request)
        call = raw.contracts[0].parameter
        assert isinstance(call, TriggerSmartContract)
        if call.contract_address != trc20.BTT_CONTRACT:
            return self._call_refused(request, "No contract or not a valid smart contract")
        out: dict[str, Any] = {"result": {"result": True}}
        if trc20.is_constant(call.data):
            # java-tron answers a view function here too, with its result.
            result = self.chain.constant_call(call.owner_address, call.contract_address, call.data)
            out["constant_result"] = [result.output.hex()]
        out["transaction"] = transaction_to_json(SignedTransaction(raw), request.visible)
        return out

    def trigger_constant_contract(self, request: Request) -> dict[str, Any]:
        refusal = self._trigger_refusal(request)
        if refusal:
            return refusal
        raw = self._trigger(request)
        call = raw.contracts[0].parameter
        assert isinstance(call, TriggerSmartContract)
        try:
            result = self.chain.constant_call(
                call.owner_address, call.contract_address, call.data, solid=request.solid
            )
        except ContractValidateError as error:
            return self._call_refused(request, str(error))
        out: dict[str, Any] = {
            "result": {"result": True}
            if result.success
            else {
                "code": "CONTRACT_EXE_ERROR",
                "message": jsonformat.name_text("REVERT opcode executed", request.visible),
            },
            "energy_used": result.energy,
            "constant_result": [result.output.hex()],
        }
        if result.logs:
            out["logs"] = [
                {
                    "address": log.address[1:].hex(),
                    "topics": [topic.hex() for topic in log.topics],
                    "data": log.data.hex(),
                }
                for log in result.logs
            ]
        out["transaction"] = transaction_to_json(SignedTransaction(raw), request.visible)
        return out

    def estimate_energy(self, request: Request) -> dict[str, Any]:
        """``EstimateEnergyServlet``: the energy the call would need, without a transaction."""
        refusal = self._trigger_refusal(request)
        if refusal:
            return refusal
        call = self._trigger(request).contracts[0].parameter
        assert isinstance(call, TriggerSmartContract)
        try:
            result = self.chain.constant_call(
                call.owner_address, call.contract_address, call.data, solid=request.solid
            )
        except ContractValidateError as error:
            return self._call_refused(request, str(error))
        if not result.success:
            return {
                "result": {
                    "code": "CONTRACT_EXE_ERROR",
                    "message": jsonformat.name_text("REVERT opcode executed", request.visible),
                }
            }
        return {"result": {"result": True}, "energy_required": result.energy}

    @staticmethod
    def _call_refused(request: Request, message: str) -> dict[str, Any]:
        return {
            "result": {
                "code": "CONTRACT_VALIDATE_ERROR",
                "message": jsonformat.name_text(message, request.visible),
            }
        }

    # --- devnet ------------------------------------------------------------------------------

    def faucet(self, request: Request) -> dict[str, Any]:
        """``POST /devnet/faucet {"address", "amount" (base units), "token": TRX|1002000|T…}``.

        The faucet account signs a real transfer; it is in the chain from the next block.
        """
        if request.method != "POST":
            raise BadRequest("use POST")
        token = request.text("token", "TRX")
        if token not in TOKENS:
            raise BadRequest(f"token must be one of {', '.join(TOKENS)}")
        amount = request.params.get("amount")
        # Amounts may be strings: TRC-20 base units go past what JSON numbers keep exactly.
        if isinstance(amount, str) and amount.isdigit():
            amount = int(amount)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise BadRequest("amount must be a positive integer in base units")
        # TRX and TRC-10 amounts are int64 in the protocol; a TRC-20 amount is a uint256.
        if amount > (trc20.UINT256_MAX if token == trc20.BTT_ADDRESS else 2**63 - 1):
            raise BadRequest(f"amount is too large for {token}")
        try:
            txid = self.chain.faucet(request.address("address"), token, amount)
        except BroadcastError as error:
            return {"code": error.code, "message": error.message}
        return {"result": True, "txid": txid.hex()}

    def mine(self, request: Request) -> dict[str, Any]:
        """``POST /devnet/mine {"blocks": n}``: produce n blocks now (pending ones included)."""
        if request.method != "POST":
            raise BadRequest("use POST")
        count = request.integer("blocks", 1)
        if not 1 <= count <= 10_000:
            raise BadRequest("blocks must be between 1 and 10000")
        blocks = [self.chain.produce_block() for _ in range(count)]
        return {
            "blocks": [{"number": b.num, "blockID": b.block_id.hex()} for b in blocks],
            "head": blocks[-1].num,
            "solid": self.chain.solid_num,
        }

    def fault(self, request: Request) -> dict[str, Any]:
        """``/devnet/fault``: GET shows the faults in force; POST injects one.

        - ``{"action": "drop", "txid": …}``: a pending or not yet solidified transaction leaves
          the chain; its balance changes are undone and the blocks from its own on get new IDs.
        - ``{"action": "revert", "txid": …}``: that transaction, once broadcast, reverts.
        - ``{"action": "revert_next_trc20", "count": n}``: the next n TRC-20 transfers revert.
        - ``{"action": "memo_fee", "sun": n}``: TIP-387's memo fee (0 = off, the default;
          mainnet charges 1,000,000).
        """
        if request.method == "POST":
            action = request.text("action")
            try:
                if action == "drop":
                    block = self.chain.drop(request.blob("txid"))
                    log.info("dropped %s from block %s", request.text("txid"), block)
                elif action == "revert":
                    txid = request.blob("txid")
                    if len(txid) != 32:
                        raise BadRequest("txid must be 32 bytes of hex")
                    self.chain.order_revert(txid=txid)
                elif action == "revert_next_trc20":
                    count = request.integer("count", 1)
                    if count < 1:
                        raise BadRequest("count must be at least 1")
                    self.chain.order_revert(next_trc20=count)
                elif action == "memo_fee":
                    fee = request.integer("sun")
                    if not 0 <= fee <= MAX_MEMO_FEE:
                        raise BadRequest(f"sun must be between 0 and {MAX_MEMO_FEE}")
                    self.chain.set_memo_fee(fee)
                else:
                    raise BadRequest(
                        "action must be one of drop, revert, revert_next_trc20, memo_fee"
                    )
            except FaultError as error:
                return {"Error": str(error)}
        orders = self.chain.revert_orders()
        return {
            "memo_fee": self.chain.memo_fee,
            "revert_txids": orders["txids"],
            "revert_next_trc20": orders["next_trc20"],
            "head": self.chain.head().num,
            "solid": self.chain.solid_num,
        }


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
