"""The devnet's own paths: ``/devnet/faucet``, ``/devnet/mine`` and ``/devnet/fault``."""

from __future__ import annotations

import logging
from typing import Any

from tron_devnet import trc20
from tron_devnet.api.requests import BadRequest, Request
from tron_devnet.chain import Chain
from tron_devnet.chain.errors import BroadcastError, FaultError
from tron_devnet.chain.params import TOKENS

log = logging.getLogger("tron_devnet")

MAX_MEMO_FEE = 1_000_000_000  # ProposalUtil: MEMO_FEE is 0 .. 1,000,000,000 sun


def faucet(chain: Chain, request: Request) -> dict[str, Any]:
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
        txid = chain.faucet(request.address("address"), token, amount)
    except BroadcastError as error:
        return {"code": error.code, "message": error.message}
    return {"result": True, "txid": txid.hex()}


def mine(chain: Chain, request: Request) -> dict[str, Any]:
    """``POST /devnet/mine {"blocks": n, "timestamp": ms}``: produce n blocks now (pending ones
    included), the first at ``timestamp`` (milliseconds; later than the head) if given: a test
    that moved the platform clock ahead makes its payment's block at the platform's time, as a
    real chain would be by then."""
    if request.method != "POST":
        raise BadRequest("use POST")
    count = request.integer("blocks", 1)
    if not 1 <= count <= 10_000:
        raise BadRequest("blocks must be between 1 and 10000")
    at = request.integer("timestamp", 0) or None
    blocks = [chain.produce_block(at if n == 0 else None) for n in range(count)]
    return {
        "blocks": [{"number": b.num, "blockID": b.block_id.hex()} for b in blocks],
        "head": blocks[-1].num,
        "solid": chain.solid_num,
    }


def fault(chain: Chain, request: Request) -> dict[str, Any]:
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
                block = chain.drop(request.blob("txid"))
                log.info("dropped %s from block %s", request.text("txid"), block)
            elif action == "revert":
                txid = request.blob("txid")
                if len(txid) != 32:
                    raise BadRequest("txid must be 32 bytes of hex")
                chain.order_revert(txid=txid)
            elif action == "revert_next_trc20":
                count = request.integer("count", 1)
                if count < 1:
                    raise BadRequest("count must be at least 1")
                chain.order_revert(next_trc20=count)
            elif action == "memo_fee":
                fee = request.integer("sun")
                if not 0 <= fee <= MAX_MEMO_FEE:
                    raise BadRequest(f"sun must be between 0 and {MAX_MEMO_FEE}")
                chain.set_memo_fee(fee)
            else:
                raise BadRequest("action must be one of drop, revert, revert_next_trc20, memo_fee")
        except FaultError as error:
            return {"Error": str(error)}
    orders = chain.revert_orders()
    return {
        "memo_fee": chain.memo_fee,
        "revert_txids": orders["txids"],
        "revert_next_trc20": orders["next_trc20"],
        "head": chain.head().num,
        "solid": chain.solid_num,
    }
