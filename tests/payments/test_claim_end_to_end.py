"""A fan pays with unmodified tronpy on the devnet, the paying page claims the txid, and a real
worker proves it through the node's HTTP API: processing in a block, settled once solidified."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from tronpy.keys import PrivateKey

from accounts.models import User
from accounts.services import issue_token
from creators.models import Creator
from ledger.models import Grant
from payments.chain.node import NodeClient, NodeUnavailable
from payments.models import Invoice, Payment, TxClaim
from tests.fixtures.devnet import Devnet, Wallet, funded_wallet
from tests.fixtures.processes import free_port, wait_for
from tests.fixtures.servers import AsgiServer
from tests.payments.factories import paid_content, with_wallet

pytestmark = pytest.mark.django_db(transaction=True)


def send_btt(devnet: Devnet, payer: Wallet, to: str, units: int, contract: str) -> str:
    btt = devnet.tron().get_contract(contract)
    sent = (
        btt.functions.transfer(to, units)
        .with_owner(payer.address)
        .fee_limit(30_000_000)
        .build()
        .sign(payer.key)
        .broadcast()
    )
    txid: str = sent.txid
    return txid


def signed_claim(payer: Wallet, invoice: dict[str, Any], txid: str) -> str:
    """What the paying page sends: the paying wallet's signature of the invoice's claim
    message for this txid (TronLink's signMessageV2)."""
    message = invoice["claim_message"].replace("{txid}", txid.lower())
    signature: str = payer.key.sign_msg(message.encode()).hex()
    return signature


def test_a_claimed_payment_settles_the_invoice_and_grants_the_content(
    node_and_worker: Devnet, fan: User, creator: Creator
) -> None:
    # given: a creator with a fresh wallet, a priced album, and a fan's invoice for it
    devnet = node_and_worker
    with_wallet(creator, PrivateKey.random().public_key.to_base58check_address())
    album = paid_content(creator)
    client = Client(headers={"Authorization": f"Bearer {issue_token(fan, 'page').secret}"})
    invoice = client.post("/api/v1/invoices", {"content_id": album.pk}, "application/json").json()
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * 10**18)

    # when: the fan's wallet pays the exact amount and the page claims the txid
    txid = send_btt(
        devnet,
        payer,
        invoice["pay_to"],
        int(invoice["amount_due"]["units"]),
        invoice["token_contract"],
    )
    claim = client.post(
        f"/api/v1/invoices/{invoice['id']}/claims",
        {"txid": txid, "signature": signed_claim(payer, invoice, txid)},
        "application/json",
    )
    assert (claim.status_code, claim.json()["state"]) == (202, "pending")

    # then: the worker sees it in a block, then solidified (19 blocks of a second later)
    wait_for(
        lambda: Invoice.objects.get(pk=invoice["id"]).state == "settled",
        timeout=120,
        what="the invoice to settle",
    )
    settled = Invoice.objects.get(pk=invoice["id"])
    assert settled.amount_paid == int(invoice["amount_due"]["units"])
    assert settled.payer_address == payer.address
    assert TxClaim.objects.get(txid=txid).state == TxClaim.State.VERIFIED
    payment = Payment.objects.get(txid=txid)
    assert (payment.log_index, payment.solidified_at is not None) == (0, True)
    assert Grant.objects.filter(user=fan, content=album).exists()
    assert list(settled.events.filter(kind="state").values_list("to_state", flat=True)) == [
        "processing",
        "settled",
    ]
    assert client.get(f"/api/v1/invoices/{invoice['id']}").json()["txids"] == [txid]


def test_a_claimed_reverted_transfer_is_refused_and_grants_nothing(
    node_and_worker: Devnet, fan: User, creator: Creator
) -> None:
    # given: a fan whose wallet holds less BTT than the invoice asks for
    devnet = node_and_worker
    with_wallet(creator, PrivateKey.random().public_key.to_base58check_address())
    album = paid_content(creator)
    client = Client(headers={"Authorization": f"Bearer {issue_token(fan, 'page').secret}"})
    invoice = client.post("/api/v1/invoices", {"content_id": album.pk}, "application/json").json()
    payer = funded_wallet(devnet, trx=100_000_000, trc20=10**18)

    # when: the transfer reverts in its block, and the page claims it anyway
    txid = send_btt(
        devnet,
        payer,
        invoice["pay_to"],
        int(invoice["amount_due"]["units"]),
        invoice["token_contract"],
    )
    client.post(
        f"/api/v1/invoices/{invoice['id']}/claims",
        {"txid": txid, "signature": signed_claim(payer, invoice, txid)},
        "application/json",
    )

    # then
    wait_for(
        lambda: TxClaim.objects.get(txid=txid).state == TxClaim.State.REFUSED,
        timeout=120,
        what="the claim to be refused",
    )
    assert TxClaim.objects.get(txid=txid).detail.startswith("failed")
    unpaid = Invoice.objects.get(pk=invoice["id"])
    assert (unpaid.state, unpaid.amount_paid) == ("new", 0)
    assert not Payment.objects.exists()
    assert not Grant.objects.filter(user=fan, content=album).exists()


def test_a_node_that_is_down_or_answers_garbage_is_unavailable(asgi_server: AsgiServer) -> None:
    # Nothing listens on a fresh port; the site's home page is HTML, not a node's JSON.
    for url in (f"http://127.0.0.1:{free_port()}", asgi_server.url):
        with pytest.raises(NodeUnavailable):
            NodeClient(url, timeout=5).transaction("ab" * 32)
