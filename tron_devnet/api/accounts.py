"""Accounts and TRC-10 BTT: ``getaccount``, its resources, ``getassetissuebyid``."""

from __future__ import annotations

from typing import Any

from tron_devnet.api import jsonformat
from tron_devnet.api.requests import Request
from tron_devnet.chain import Chain


def get_account(chain: Chain, request: Request) -> dict[str, Any]:
    account = chain.account(request.address("address"), request.solid)
    return jsonformat.account_to_json(account, request.visible) if account else {}


def get_account_resource(chain: Chain, request: Request) -> dict[str, Any]:
    """``AccountResourceMessage``; nothing is staked or used up on the devnet."""
    account = chain.account(request.address("address"))
    return jsonformat.account_resource_to_json(account) if account else {}


def get_account_net(chain: Chain, request: Request) -> dict[str, Any]:
    """``AccountNetMessage``, the bandwidth half of ``getaccountresource``."""
    account = chain.account(request.address("address"))
    return jsonformat.account_net_to_json(account) if account else {}


def get_asset_issue_by_id(chain: Chain, request: Request) -> dict[str, Any]:
    if request.text("value") != "1002000":
        return {}
    genesis = chain.block_by_num(0)
    assert genesis is not None
    return jsonformat.btt_asset_to_json(genesis.timestamp, request.visible)
