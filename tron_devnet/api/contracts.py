"""The TRC-20 BTT contract: its ABI, calls with and without a transaction, energy estimates."""

from __future__ import annotations

from typing import Any

from tronpy.keys import keccak256

from tron_devnet import trc20
from tron_devnet.api import jsonformat
from tron_devnet.api.requests import Request
from tron_devnet.chain import Chain
from tron_devnet.chain.blocks import now_ms
from tron_devnet.chain.errors import ContractValidateError
from tron_devnet.chain.params import DEFAULT_EXPIRATION_MS
from tron_devnet.protocol.contracts import Contract, TriggerSmartContract, type_url
from tron_devnet.protocol.transaction_json import hex_bytes, transaction_to_json
from tron_devnet.protocol.transactions import RawTransaction, SignedTransaction


def get_contract(chain: Chain, request: Request) -> dict[str, Any]:
    if request.address("value") != trc20.BTT_CONTRACT:
        return {}
    return jsonformat.btt_contract_to_json(request.visible)


def get_contract_info(chain: Chain, request: Request) -> dict[str, Any]:
    """``SmartContractDataWrapper``; no ``runtimecode``, the contract runs natively."""
    if request.address("value") != trc20.BTT_CONTRACT:
        return {}
    return {"smart_contract": jsonformat.btt_contract_to_json(request.visible)}


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


def _trigger(chain: Chain, request: Request) -> RawTransaction:
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
    head = chain.head()
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


def trigger_smart_contract(chain: Chain, request: Request) -> dict[str, Any]:
    refusal = _trigger_refusal(request)
    if refusal:
        return refusal
    raw = _trigger(chain, request)
    call = raw.contracts[0].parameter
    assert isinstance(call, TriggerSmartContract)
    if call.contract_address != trc20.BTT_CONTRACT:
        return _call_refused(request, "No contract or not a valid smart contract")
    out: dict[str, Any] = {"result": {"result": True}}
    if trc20.is_constant(call.data):
        # java-tron answers a view function here too, with its result.
        result = chain.constant_call(call.owner_address, call.contract_address, call.data)
        out["constant_result"] = [result.output.hex()]
    out["transaction"] = transaction_to_json(SignedTransaction(raw), request.visible)
    return out


def trigger_constant_contract(chain: Chain, request: Request) -> dict[str, Any]:
    refusal = _trigger_refusal(request)
    if refusal:
        return refusal
    raw = _trigger(chain, request)
    call = raw.contracts[0].parameter
    assert isinstance(call, TriggerSmartContract)
    try:
        result = chain.constant_call(
            call.owner_address, call.contract_address, call.data, solid=request.solid
        )
    except ContractValidateError as error:
        return _call_refused(request, str(error))
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


def estimate_energy(chain: Chain, request: Request) -> dict[str, Any]:
    """``EstimateEnergyServlet``: the energy the call would need, without a transaction."""
    refusal = _trigger_refusal(request)
    if refusal:
        return refusal
    call = _trigger(chain, request).contracts[0].parameter
    assert isinstance(call, TriggerSmartContract)
    try:
        result = chain.constant_call(
            call.owner_address, call.contract_address, call.data, solid=request.solid
        )
    except ContractValidateError as error:
        return _call_refused(request, str(error))
    if not result.success:
        return {
            "result": {
                "code": "CONTRACT_EXE_ERROR",
                "message": jsonformat.name_text("REVERT opcode executed", request.visible),
            }
        }
    return {"result": {"result": True}, "energy_required": result.energy}


def _call_refused(request: Request, message: str) -> dict[str, Any]:
    return {
        "result": {
            "code": "CONTRACT_VALIDATE_ERROR",
            "message": jsonformat.name_text(message, request.visible),
        }
    }
