"""The node's own state: head and solidified block, chain parameters, resource prices."""

from __future__ import annotations

from typing import Any

from tron_devnet.api.requests import Request
from tron_devnet.chain import Chain


def get_node_info(chain: Chain, request: Request) -> dict[str, Any]:
    head = chain.head()
    solid = chain.block_by_num(chain.solid_num)
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


def get_chain_parameters(chain: Chain, request: Request) -> dict[str, Any]:
    # What the devnet enforces; the fees it does not charge are reported as zero, which
    # JsonFormat prints as a key without a value. The memo fee is whatever a fault set.
    values = {
        "getMaintenanceTimeInterval": 21_600_000,
        "getCreateAccountFee": 0,
        "getTransactionFee": 0,
        "getCreateNewAccountFeeInSystemContract": 0,
        "getEnergyFee": 0,
        "getMemoFee": chain.memo_fee,
        "getAllowSameTokenName": 1,
        "getAllowMultiSign": 1,
        "getAllowTvmTransferTrc10": 1,
        "getForbidTransferToContract": 1,
        "getMaxFeeLimit": 15_000_000_000,
    }
    return {
        "chainParameter": [
            {"key": key, "value": value} if value else {"key": key} for key, value in values.items()
        ]
    }


def get_energy_prices(chain: Chain, request: Request) -> dict[str, Any]:
    # "since:price" pairs, oldest first; the devnet charges no energy.
    return {"prices": "0:0"}


def get_bandwidth_prices(chain: Chain, request: Request) -> dict[str, Any]:
    return {"prices": "0:0"}


def get_memo_fee(chain: Chain, request: Request) -> dict[str, Any]:
    """``GetMemoFeePricesServlet``: every memo fee the chain has had, as "since:sun"."""
    return {"prices": ",".join(f"{since}:{fee}" for since, fee in chain.memo_fees())}
