"""Block reads: by number, ID, the head, and ranges (``getblockbylimitnext``, ``…bylatestnum``)."""

from __future__ import annotations

from typing import Any

from tron_devnet.api import jsonformat
from tron_devnet.api.requests import Request
from tron_devnet.chain import Chain

BLOCK_LIMIT_NUM = 100  # the block-range servlets' cap


def get_now_block(chain: Chain, request: Request) -> dict[str, Any]:
    num = chain.solid_num if request.solid else chain.head().num
    return _block_json(chain, num, request)


def get_block_by_num(chain: Chain, request: Request) -> dict[str, Any]:
    return _block_json(chain, request.integer("num"), request)


def get_block_by_id(chain: Chain, request: Request) -> dict[str, Any]:
    block = chain.block_by_id(request.blob("value"), request.solid)
    return jsonformat.block_to_json(block, request.visible) if block else {}


def get_block(chain: Chain, request: Request) -> dict[str, Any]:
    """``wallet/getblock``: ``id_or_num`` (empty for the head) and ``detail``."""
    id_or_num = request.text("id_or_num")
    detail = request.params.get("detail") in (True, "true")
    if not id_or_num:
        num = chain.solid_num if request.solid else chain.head().num
        return _block_json(chain, num, request, detail)
    if id_or_num.isdigit():
        return _block_json(chain, int(id_or_num), request, detail)
    block = chain.block_by_id(request.blob("id_or_num"), request.solid)
    return jsonformat.block_to_json(block, request.visible, detail) if block else {}


def _block_json(chain: Chain, num: int, request: Request, detail: bool = True) -> dict[str, Any]:
    block = chain.block_by_num(num, request.solid)
    return jsonformat.block_to_json(block, request.visible, detail) if block else {}


def _block_list(chain: Chain, numbers: range, request: Request) -> dict[str, Any]:
    """``Util.printBlockList``: the blocks that exist, in order, under ``block``."""
    blocks = []
    for num in numbers:
        block = chain.block_by_num(num, request.solid)
        if block is None:
            break
        blocks.append(jsonformat.block_to_json(block, request.visible))
    return {"block": blocks}


def get_block_by_limit_next(chain: Chain, request: Request) -> dict[str, Any]:
    """``GetBlockByLimitNextServlet``: blocks ``startNum`` .. ``endNum`` - 1, at most 100."""
    start, end = request.integer("startNum", 0), request.integer("endNum", 0)
    if not (end > 0 and end > start and end - start <= BLOCK_LIMIT_NUM):
        return {}
    return _block_list(chain, range(max(start, 0), end), request)


def get_block_by_latest_num(chain: Chain, request: Request) -> dict[str, Any]:
    """``GetBlockByLatestNumServlet``: the newest ``num`` (< 100) blocks, oldest first."""
    count = request.integer("num", 0)
    if not 0 < count < BLOCK_LIMIT_NUM:
        return {}
    head = chain.solid_num if request.solid else chain.head().num
    return _block_list(chain, range(max(0, head - count + 1), head + 1), request)
