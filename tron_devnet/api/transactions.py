"""Transactions: reads, receipts, broadcasting (JSON or protobuf hex) and ``getsignweight``."""

from __future__ import annotations

import json
import logging
from typing import Any

from tron_devnet.api import jsonformat
from tron_devnet.api.requests import BadRequest, Request
from tron_devnet.chain import Chain
from tron_devnet.chain.errors import BroadcastError
from tron_devnet.protocol.signatures import SignatureError, recover_signer
from tron_devnet.protocol.transaction_json import (
    raw_to_json,
    transaction_from_json,
    transaction_to_json,
)
from tron_devnet.protocol.transactions import SignedTransaction

log = logging.getLogger("tron_devnet")


def get_transaction_by_id(chain: Chain, request: Request) -> dict[str, Any]:
    stored = chain.transaction(request.blob("value"), request.solid)
    return transaction_to_json(stored.transaction, request.visible) if stored else {}


def get_transaction_info_by_id(chain: Chain, request: Request) -> dict[str, Any]:
    stored = chain.transaction(request.blob("value"), request.solid)
    return jsonformat.transaction_info_to_json(stored, request.visible) if stored else {}


def get_transaction_info_by_block_num(chain: Chain, request: Request) -> list[dict[str, Any]]:
    num = request.integer("num")
    if request.solid and num > chain.solid_num:
        return []
    return [
        jsonformat.transaction_info_to_json(stored, request.visible)
        for stored in chain.transactions_in_block(num)
    ]


def get_transaction_count_by_block_num(chain: Chain, request: Request) -> dict[str, Any]:
    num = request.integer("num")
    # Wallet.getTransactionCountByBlockNum: 0 for a block the node does not have.
    if chain.block_by_num(num, request.solid) is None:
        return {"count": 0}
    return {"count": len(chain.transactions_in_block(num))}


def _transaction(request: Request) -> SignedTransaction:
    try:
        return transaction_from_json(request.params, request.visible)
    except ValueError as error:
        raise BadRequest(str(error)) from None


def broadcast_transaction(chain: Chain, request: Request) -> dict[str, Any]:
    """``BroadcastServlet``: the Return message plus the txID."""
    transaction = _transaction(request)
    txid = transaction.txid.hex()
    try:
        chain.broadcast(transaction)
    except BroadcastError as error:
        log.info("broadcast %s refused: %s %s", txid, error.code, error.message)
        return {
            "code": error.code,
            "txid": txid,
            "message": jsonformat.name_text(error.message, request.visible),
        }
    return {"result": True, "txid": txid}


def broadcast_hex(chain: Chain, request: Request) -> dict[str, Any]:
    """``BroadcastHexServlet``: a whole protobuf ``Transaction`` in hex.

    Unlike ``broadcasttransaction`` the answer always carries ``result``, ``code`` and a
    plain-text ``message``, plus the transaction as a JSON *string* printed with
    ``visible`` true (TronWeb parses it).
    """
    transaction = SignedTransaction.decode(request.blob("transaction"))
    code, message = "SUCCESS", ""
    try:
        chain.broadcast(transaction)
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


def get_sign_weight(chain: Chain, request: Request) -> dict[str, Any]:
    """``Wallet.getTransactionSignWeight`` for accounts with the default permissions."""
    transaction = _transaction(request)
    raw = transaction.raw
    out: dict[str, Any] = {}
    owner = raw.owner_address
    result: dict[str, Any]
    if not raw.contracts:
        result = {"code": "OTHER_ERROR", "message": "No contract!"}
    elif chain.account(owner) is None:
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
