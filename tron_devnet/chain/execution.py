"""Executing a validated transaction: the actuators' contract checks, balance changes, receipts.

The rules are java-tron's ``Transfer*Actuator`` classes' where a client can observe them. The
TIP-387 memo fee, when a fault switched it on, is charged in TRX to the payer before the
contract runs, as java-tron's ``Manager.consumeMemoFee`` does, and reported in the receipt's
``fee``.
"""

from __future__ import annotations

import json

from tron_devnet import trc20
from tron_devnet.chain.errors import BroadcastError, ContractValidateError
from tron_devnet.chain.faults import Faults
from tron_devnet.chain.params import BTT_TRC10, BTT_TRC20, MAX_FEE_LIMIT, TRX
from tron_devnet.chain.records import Block, Receipt
from tron_devnet.protocol.addresses import is_valid_address
from tron_devnet.protocol.contracts import (
    TransferAssetContract,
    TransferContract,
    TriggerSmartContract,
)
from tron_devnet.protocol.transactions import RawTransaction, SignedTransaction


class Execution(Faults):
    """Runs a transaction against the head state; it waits for the next block to include it."""

    def _execute(self, transaction: SignedTransaction, head: Block) -> None:
        contract = transaction.raw.contracts[0]
        parameter = contract.parameter
        seq = self._next_seq()
        receipt: Receipt
        contract_ret = "SUCCESS"
        # Manager.consumeMemoFee runs before the contract: its validation sees the fee paid.
        fee = self._charge_memo_fee(seq, transaction.raw)
        if isinstance(parameter, TransferContract):
            self._validate_trx_transfer(parameter)
            self._ensure_account(parameter.to_address, head.timestamp, seq)
            self._change(seq, parameter.owner_address, TRX, -parameter.amount)
            self._change(seq, parameter.to_address, TRX, parameter.amount)
            receipt = Receipt(net_usage=_net_usage(transaction), fee=fee)
        elif isinstance(parameter, TransferAssetContract):
            token = self._validate_asset_transfer(parameter)
            self._ensure_account(parameter.to_address, head.timestamp, seq)
            self._change(seq, parameter.owner_address, token, -parameter.amount)
            self._change(seq, parameter.to_address, token, parameter.amount)
            receipt = Receipt(net_usage=_net_usage(transaction), fee=fee)
        else:
            self._validate_trigger(parameter, transaction.raw)
            result = trc20.call(
                lambda holder: self.balance(holder, BTT_TRC20),
                parameter.owner_address,
                parameter.data,
                parameter.call_value or parameter.call_token_value,
            )
            if result.success and self._take_revert_order(
                transaction.txid, parameter.owner_address, parameter.data
            ):
                # An injected revert: the call fails as a require() would, after the same work.
                result = trc20.CallResult(success=False, energy=result.energy)
            if result.success:
                for holder, delta in result.balance_changes:
                    self._change(seq, holder, BTT_TRC20, delta)
            else:
                contract_ret = "REVERT"
            receipt = Receipt(
                net_usage=_net_usage(transaction),
                fee=fee,
                contract_result=result.output,
                contract_address=parameter.contract_address,
                energy_usage_total=result.energy,
                vm_result=contract_ret,
                failed=not result.success,
                res_message="" if result.success else "REVERT opcode executed",
                logs=tuple(result.logs),
            )
        signatures = json.dumps([s.hex() for s in transaction.signatures])
        self.db.execute(
            "INSERT INTO transactions (seq, txid, block_num, raw, signatures, contract_ret, "
            "receipt) VALUES (?, ?, NULL, ?, ?, ?, ?)",
            (
                seq,
                transaction.txid,
                transaction.raw.encode(),
                signatures,
                contract_ret,
                receipt.to_record(),
            ),
        )

    def _charge_memo_fee(self, seq: int, raw: RawTransaction) -> int:
        fee = self.memo_fee
        owner = raw.owner_address
        if not raw.data or not fee or not self._is_account(owner):
            return 0
        if self.balance(owner, TRX) < fee:
            # AccountResourceInsufficientException, as Wallet.broadcastTransaction words it.
            raise BroadcastError("BANDWITH_ERROR", "Account resource insufficient error.")
        # Burnt (mainnet's supportBlackHoleOptimization), so no account receives it.
        self._change(seq, owner, TRX, -fee)
        return fee

    def _next_seq(self) -> int:
        row = self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM transactions").fetchone()
        seq: int = row[0]
        return seq

    def _ensure_account(self, address: bytes, timestamp: int, seq: int) -> None:
        if not self._is_account(address):
            self._create_account(address, timestamp, seq)

    def _validate_trx_transfer(self, contract: TransferContract) -> None:
        """TransferActuator.validate."""
        if not is_valid_address(contract.owner_address):
            raise ContractValidateError("Invalid ownerAddress!")
        if not is_valid_address(contract.to_address):
            raise ContractValidateError("Invalid toAddress!")
        if contract.to_address == contract.owner_address:
            raise ContractValidateError("Cannot transfer TRX to yourself.")
        if not self._is_account(contract.owner_address):
            raise ContractValidateError("Validate TransferContract error, no OwnerAccount.")
        if contract.amount <= 0:
            raise ContractValidateError("Amount must be greater than 0.")
        if self._is_contract(contract.to_address):
            raise ContractValidateError("Cannot transfer TRX to a smartContract.")
        if self.balance(contract.owner_address, TRX) < contract.amount:
            raise ContractValidateError(
                "Validate TransferContract error, balance is not sufficient."
            )

    def _validate_asset_transfer(self, contract: TransferAssetContract) -> str:
        """TransferAssetActuator.validate; returns the token id."""
        if not is_valid_address(contract.owner_address):
            raise ContractValidateError("Invalid ownerAddress")
        if not is_valid_address(contract.to_address):
            raise ContractValidateError("Invalid toAddress")
        if contract.amount <= 0:
            raise ContractValidateError("Amount must be greater than 0.")
        if contract.to_address == contract.owner_address:
            raise ContractValidateError("Cannot transfer asset to yourself.")
        if not self._is_account(contract.owner_address):
            raise ContractValidateError("No owner account!")
        token = contract.asset_name.decode(errors="replace")
        if token != BTT_TRC10:
            raise ContractValidateError("No asset!")
        balance = self.balance(contract.owner_address, token)
        if balance <= 0:
            raise ContractValidateError("assetBalance must be greater than 0.")
        if contract.amount > balance:
            raise ContractValidateError("assetBalance is not sufficient.")
        if self._is_contract(contract.to_address):
            raise ContractValidateError("Cannot transfer asset to smartContract.")
        return token

    def _validate_trigger(self, contract: TriggerSmartContract, raw: RawTransaction) -> None:
        if not is_valid_address(contract.owner_address):
            raise ContractValidateError("Invalid ownerAddress!")
        if contract.contract_address != trc20.BTT_CONTRACT:
            raise ContractValidateError("No contract or not a valid smart contract")
        if not 0 <= raw.fee_limit <= MAX_FEE_LIMIT:
            raise ContractValidateError(f"feeLimit must be >= 0 and <= {MAX_FEE_LIMIT}")


def _net_usage(transaction: SignedTransaction) -> int:
    # Bandwidth: the transaction's size plus the 64 bytes java-tron reserves for its result.
    return len(transaction.encode()) + 64
