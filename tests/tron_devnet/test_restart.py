"""The devnet's chain survives restarts, clean or not."""

from __future__ import annotations

import signal
from collections.abc import Callable

from tronpy.keys import PrivateKey

from tests.fixtures.devnet import BTT_TRC20, Devnet, funded_wallet
from tests.fixtures.processes import wait_for


def test_the_chain_survives_a_restart(devnet_factory: Callable[..., Devnet]) -> None:
    # given: payments in blocks
    node = devnet_factory()
    alice = funded_wallet(node, trx=9_000_000, trc20=10**20)
    bob = PrivateKey.random().public_key.to_base58check_address()
    client = node.tron()
    paid = client.trx.transfer(alice.address, bob, 2_000_000).memo("m").build().sign(alice.key)
    paid.broadcast()
    btt = client.get_contract(BTT_TRC20)
    btt.functions.transfer(bob, 10**19).with_owner(alice.address).fee_limit(10**7).build().sign(
        alice.key
    ).broadcast()
    node.mine()
    head = node.post("wallet/getnowblock")
    receipt = client.get_transaction_info(paid.txid)

    # when: stopped the way a process manager does (uvicorn exits by re-raising SIGTERM)
    node.stop()
    assert "TRON devnet stopped at block" in node.child.output()
    node = devnet_factory(node.state)
    client = node.tron()

    # then: the same blocks, receipts and balances, and the chain goes on from there
    assert node.post("wallet/getblockbynum", num=head["block_header"]["raw_data"]["number"]) == (
        head
    )
    assert client.get_transaction_info(paid.txid) == receipt
    assert client.get_account(bob)["balance"] == 2_000_000
    assert client.get_contract(BTT_TRC20).functions.balanceOf(bob) == 10**19
    number = head["block_header"]["raw_data"]["number"]
    wait_for(lambda: node.head() > number, timeout=30, what="a block after the restart")

    # and a replay of the old payment is still a duplicate
    answer = node.post("wallet/broadcasttransaction", **paid.to_json())
    assert answer["code"] == "DUP_TRANSACTION_ERROR"
    assert bytes.fromhex(answer["message"]).decode() == "Dup transaction."


def test_a_pending_payment_survives_a_crash(devnet_factory: Callable[..., Devnet]) -> None:
    # given: a payment accepted but not yet in a block (no automatic blocks for a minute)
    node = devnet_factory(TRON_DEVNET_BLOCK_SECONDS="60")
    alice = funded_wallet(node, trx=3_000_000)
    bob = PrivateKey.random().public_key.to_base58check_address()
    sent = node.tron().trx.transfer(alice.address, bob, 1_000_000).build().sign(alice.key)
    sent.broadcast()

    # when
    node.stop(signal.SIGKILL)
    node = devnet_factory(node.state, TRON_DEVNET_BLOCK_SECONDS="60")
    node.mine()

    # then
    assert node.tron().get_transaction_info(sent.txid)["blockNumber"] == node.head()
    assert node.tron().get_account(bob)["balance"] == 1_000_000
