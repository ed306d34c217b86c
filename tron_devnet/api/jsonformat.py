"""java-tron's JSON for the devnet's answers (``JsonFormat`` and the servlets' ``Util`` helpers).

``visible`` false: byte strings in hex, addresses as ``41…`` hex; true: addresses in base58check
and "name" fields (``Return.message``, ``TransactionInfo.resMessage``, asset names) as UTF-8.
Fields holding their proto3 default (0, empty, false) are left out, as java-tron does.
"""

from __future__ import annotations

from typing import Any

from tron_devnet import trc20
from tron_devnet.chain.params import (
    BTT_TRC10,
    TRC10_PRECISION,
    TRC10_TOTAL_SUPPLY,
    WITNESS_ADDRESS,
)
from tron_devnet.chain.records import Account, Block, StoredTransaction
from tron_devnet.protocol.addresses import address_to_base58
from tron_devnet.protocol.transaction_json import transaction_to_json

# The Active permission's default operations bitmap as mainnet accounts show it.
ACTIVE_OPERATIONS = "7fff1fc0033e0000000000000000000000000000000000000000000000000000"


def address(raw: bytes, visible: bool) -> str:
    return address_to_base58(raw) if visible else raw.hex()


def name_text(text: str, visible: bool) -> str:
    return text if visible else text.encode().hex()


def block_to_json(block: Block, visible: bool, detail: bool = True) -> dict[str, Any]:
    """``Util.printBlockToJSON``."""
    header = block.header
    raw: dict[str, Any] = {}
    if header.number:
        raw["number"] = header.number
    raw["txTrieRoot"] = header.tx_trie_root.hex()
    raw["witness_address"] = address(header.witness_address, visible)
    raw["parentHash"] = header.parent_hash.hex()
    raw["version"] = header.version
    raw["timestamp"] = header.timestamp
    out: dict[str, Any] = {
        "blockID": block.block_id.hex(),
        "block_header": {"raw_data": raw, "witness_signature": block.witness_signature.hex()},
    }
    if detail and block.transactions:
        out["transactions"] = [
            transaction_to_json(stored.transaction, visible) for stored in block.transactions
        ]
    return out


def transaction_info_to_json(stored: StoredTransaction, visible: bool) -> dict[str, Any]:
    """``TransactionInfo``; log addresses get their 0x41 prefix only when visible, as in
    ``GetTransactionInfoByIdServlet.convertLogAddressToTronAddress``."""
    receipt = stored.receipt
    out: dict[str, Any] = {"id": stored.txid.hex()}
    if receipt.fee:
        out["fee"] = receipt.fee
    out["blockNumber"] = stored.block_num
    out["blockTimeStamp"] = stored.block_timestamp
    out["contractResult"] = [receipt.contract_result.hex()]
    if receipt.contract_address:
        out["contract_address"] = address(receipt.contract_address, visible)
    resource: dict[str, Any] = {}
    if receipt.energy_usage_total:
        resource["energy_usage_total"] = receipt.energy_usage_total
    if receipt.net_usage:
        resource["net_usage"] = receipt.net_usage
    if receipt.vm_result:
        resource["result"] = receipt.vm_result
    out["receipt"] = resource
    if receipt.logs:
        out["log"] = [
            {
                "address": address_to_base58(log.address) if visible else log.address[1:].hex(),
                "topics": [topic.hex() for topic in log.topics],
                "data": log.data.hex(),
            }
            for log in receipt.logs
        ]
    if receipt.failed:
        out["result"] = "FAILED"
        out["resMessage"] = name_text(receipt.res_message, visible)
    return out


def permissions_to_json(owner: bytes, visible: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The default owner and active permissions of an account with one key."""
    keys = [{"address": address(owner, visible), "weight": 1}]
    owner_permission = {"permission_name": "owner", "threshold": 1, "keys": keys}
    active_permission = {
        "type": "Active",
        "id": 2,
        "permission_name": "active",
        "threshold": 1,
        "operations": ACTIVE_OPERATIONS,
        "keys": keys,
    }
    return owner_permission, active_permission


def account_to_json(account: Account, visible: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if account.is_contract:
        out["type"] = "Contract"
    out["address"] = address(account.address, visible)
    if account.balance:
        out["balance"] = account.balance
    out["create_time"] = account.create_time
    if account.assets:
        out["assetV2"] = [{"key": key, "value": value} for key, value in account.assets.items()]
        out["free_asset_net_usageV2"] = [{"key": key, "value": 0} for key in account.assets]
    if not account.is_contract:
        owner, active = permissions_to_json(account.address, visible)
        out["owner_permission"] = owner
        out["active_permission"] = [active]
    return out


def btt_contract_to_json(visible: bool) -> dict[str, Any]:
    """``SmartContract`` of the TRC-20 BTT contract (no bytecode: it runs natively here)."""
    return {
        "origin_address": address(WITNESS_ADDRESS, visible),
        "contract_address": address(trc20.BTT_CONTRACT, visible),
        "abi": {"entrys": trc20.ABI},
        "consume_user_resource_percent": 100,
        "name": trc20.NAME,
        "origin_energy_limit": 10_000_000,
    }


def btt_asset_to_json(genesis_timestamp: int, visible: bool) -> dict[str, Any]:
    """``AssetIssueContract`` of TRC-10 BTT (1002000) as the devnet issued it at genesis."""
    return {
        "owner_address": address(WITNESS_ADDRESS, visible),
        "name": name_text("BitTorrent", visible),
        "abbr": name_text("BTT", visible),
        "total_supply": TRC10_TOTAL_SUPPLY,
        "trx_num": 1,
        "precision": TRC10_PRECISION,
        "num": 1,
        "start_time": genesis_timestamp,
        "end_time": genesis_timestamp + 1,
        "url": name_text("www.bittorrent.com", visible),
        "id": BTT_TRC10,
    }


# Mainnet's resource totals as its chain parameters give them; the devnet reports them so that
# wallets can show their usual figures, but consumes no bandwidth or energy.
FREE_NET_LIMIT = 600
TOTAL_NET_LIMIT = 43_200_000_000
TOTAL_ENERGY_LIMIT = 180_000_000_000


def account_net_to_json(account: Account) -> dict[str, Any]:
    """``AccountNetMessage``: free bandwidth and the network totals; none used or staked."""
    out: dict[str, Any] = {"freeNetLimit": FREE_NET_LIMIT}
    if account.assets:
        out["assetNetUsed"] = [{"key": key, "value": 0} for key in account.assets]
        out["assetNetLimit"] = [{"key": key, "value": 0} for key in account.assets]
    out["TotalNetLimit"] = TOTAL_NET_LIMIT
    return out


def account_resource_to_json(account: Account) -> dict[str, Any]:
    """``AccountResourceMessage``: the bandwidth part plus the energy totals."""
    out = account_net_to_json(account)
    out["TotalEnergyLimit"] = TOTAL_ENERGY_LIMIT
    return out
