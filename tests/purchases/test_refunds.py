"""Refunds of purchases staff took down, proven on a real devnet: the creator's wallet sends the
fan's money back with unmodified tronpy, the creator records the txid, and the platform reads it
from the node. The hostile cases are the transactions a creator could name instead, and the
requests a fan or another creator could make, written as they would try them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User, VerifiedWallet
from btt_platform import clock
from creators.models import Creator
from ledger import access
from ledger.models import Grant
from payments import crediting
from payments.chain.node import NodeClient
from payments.errors import NotFound, PaymentRefused
from payments.models import Invoice
from payments.refunds import RefundNotProven, RefundPending
from purchases import refunds
from purchases import services as purchases
from purchases.models import RefundRequest
from swarm import services as swarm
from swarm.models import Content
from tests.fixtures.devnet import Devnet, Wallet, funded_wallet
from tests.fixtures.personas import make_user
from tests.payments.factories import paid_content, paying, proven, with_wallet
from tests.payments.watching import block_of, send_btt, send_trx

pytestmark = pytest.mark.django_db(transaction=True)

BTT = 10**18
SOLIDIFY = 20  # the devnet fixture solidifies 19 blocks back


@dataclass
class Sale:
    invoice: Invoice
    content: Content
    fan_wallet: Wallet


@pytest.fixture
def node(devnet: Devnet) -> Iterator[NodeClient]:
    client = NodeClient(devnet.url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def creator_wallet(devnet: Devnet, creator: Creator) -> Wallet:
    """The creator's payout address is a devnet wallet holding BTT to refund with."""
    wallet = funded_wallet(devnet, trx=100_000_000, trc20=1_000 * BTT)
    with_wallet(creator, wallet.address)
    return wallet


def settled_sale(
    devnet: Devnet, fan: User, creator: Creator, moderator: User, title: str = "Album"
) -> Sale:
    """``fan`` bought a content of ``creator`` from a wallet they verified; staff took it down."""
    fan_wallet = funded_wallet(devnet, trx=1_000_000)
    VerifiedWallet.objects.get_or_create(
        user=fan, address=fan_wallet.address, defaults={"verified_at": timezone.now()}
    )
    content = paid_content(creator, title)
    invoice, _ = purchases.create_purchase_invoice(fan, content)
    # The payment itself is the watcher's business (tested elsewhere): credited as proven.
    crediting.record_transfer(
        proven(*paying(invoice, sender=fan_wallet.address, recipient=invoice.recipient)),
        solidified=True,
    )
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.SETTLED
    assert access.decide(fan, content).reason == Grant.Source.PURCHASE
    swarm.take_down_content(moderator, content.pk, "Counterfeit release")
    content.refresh_from_db()
    return Sale(invoice, content, fan_wallet)


def ask(fan: User, sale: Sale) -> RefundRequest:
    request, created = refunds.request_refund(
        fan, sale.content.pk, sale.fan_wallet.address, "please"
    )
    assert created
    return request


def solid(devnet: Devnet, txid: str) -> str:
    block_of(devnet, txid)
    devnet.mine(SOLIDIFY)
    return txid


def test_a_refund_the_creator_sent_is_proven_on_chain_and_shown_refunded_to_both(
    devnet: Devnet,
    node: NodeClient,
    fan: User,
    creator: Creator,
    creator_wallet: Wallet,
    moderator: User,
    settings: Any,
) -> None:
    # given: the fan asked for a refund of a removed purchase
    sale = settled_sale(devnet, fan, creator, moderator)
    request = ask(fan, sale)
    assert (request.amount.units, request.address, request.address_verified) == (
        sale.invoice.amount_paid,
        sale.fan_wallet.address,
        True,
    )

    # when: the creator sends it back from their wallet; recorded before it is final
    txid = send_btt(devnet, creator_wallet, sale.fan_wallet.address, sale.invoice.amount_paid)
    block_of(devnet, txid)
    with pytest.raises(RefundPending):
        refunds.record_refund(creator.user, request.pk, txid, node)
    assert RefundRequest.objects.get(pk=request.pk).state == RefundRequest.State.OPEN

    # when: recorded again once solidified, through the studio (upper case, as some explorers
    # show txids)
    devnet.mine(SOLIDIFY)
    settings.TRON_API_URL = devnet.url
    creator_client = Client()
    creator_client.force_login(creator.user)
    response = creator_client.post(f"/studio/refunds/{request.pk}/record/", {"txid": txid.upper()})
    assert response.status_code == 302
    recorded = RefundRequest.objects.get(pk=request.pk)

    # then: refunded, with the txid and amount; the purchase's grant is taken back, so a
    # restore would not reopen it; both sides see it refunded
    assert (recorded.state, recorded.txid, recorded.refunded_units) == (
        RefundRequest.State.REFUNDED,
        txid,
        sale.invoice.amount_paid,
    )
    swarm.restore_content(make_user("mod2", is_staff=True), sale.content.pk)
    sale.content.refresh_from_db()
    assert not access.decide(fan, sale.content)
    # The payment to the creator stays settled: it happened; the refund is a transfer of its own.
    assert Invoice.objects.get(pk=sale.invoice.pk).state == Invoice.State.SETTLED
    fan_client = Client()
    fan_client.force_login(fan)
    fan_page = fan_client.get(f"/library/{sale.content.pk}/refund/").content.decode()
    assert 'data-refund-state="refunded"' in fan_page
    assert txid in fan_page
    studio = creator_client.get("/studio/refunds/").content.decode()
    assert f'data-refund-request="{request.pk}" data-state="refunded"' in studio


@pytest.mark.parametrize(
    "attempt",
    ["to someone else", "too little", "from someone else", "in TRX", "not on chain"],
)
def test_a_transaction_that_is_not_the_refund_is_refused(
    devnet: Devnet,
    node: NodeClient,
    fan: User,
    creator: Creator,
    creator_wallet: Wallet,
    moderator: User,
    attempt: str,
) -> None:
    # given
    sale = settled_sale(devnet, fan, creator, moderator)
    request = ask(fan, sale)
    paid = sale.invoice.amount_paid
    stranger = funded_wallet(devnet, trx=100_000_000, trc20=1_000 * BTT)

    # when: the creator names a transaction that is not a full refund from them to the fan
    if attempt == "to someone else":
        txid = solid(devnet, send_btt(devnet, creator_wallet, stranger.address, paid))
        expected: type[PaymentRefused] = RefundNotProven
    elif attempt == "too little":
        txid = solid(devnet, send_btt(devnet, creator_wallet, sale.fan_wallet.address, paid - 1))
        expected = RefundNotProven
    elif attempt == "from someone else":
        txid = solid(devnet, send_btt(devnet, stranger, sale.fan_wallet.address, paid))
        expected = RefundNotProven
    elif attempt == "in TRX":
        txid = solid(devnet, send_trx(devnet, creator_wallet, sale.fan_wallet.address, 10**6))
        expected = RefundNotProven
    else:
        txid = "ab" * 32
        expected = RefundPending

    # then: refused, with a reason; nothing changed
    with pytest.raises(expected) as refused:
        refunds.record_refund(creator.user, request.pk, txid, node)
    assert refused.value.message
    after = RefundRequest.objects.get(pk=request.pk)
    assert (after.state, after.txid, after.refunded_units) == (RefundRequest.State.OPEN, None, 0)
    assert Grant.objects.live(clock.now()).filter(user=fan, content=sale.content).count() == 1


def test_one_transaction_refunds_one_purchase_only(
    devnet: Devnet,
    node: NodeClient,
    fan: User,
    creator: Creator,
    creator_wallet: Wallet,
    moderator: User,
) -> None:
    # given: the fan bought two releases that were both taken down, and asked for both
    first = settled_sale(devnet, fan, creator, moderator, "First")
    second = settled_sale(devnet, fan, creator, moderator, "Second")
    first_request, second_request = ask(fan, first), ask(fan, second)
    assert first.fan_wallet.address != second.fan_wallet.address
    # One transfer to the wallet of both requests would need one address; name the second
    # request's address the first's, as a fan with one wallet would.
    RefundRequest.objects.filter(pk=second_request.pk).update(address=first.fan_wallet.address)
    paid = first.invoice.amount_paid + second.invoice.amount_paid
    txid = solid(devnet, send_btt(devnet, creator_wallet, first.fan_wallet.address, paid))
    refunds.record_refund(creator.user, first_request.pk, txid, node)

    # when: the creator records the same transaction for the second request, and again for
    # the first
    with pytest.raises(RefundNotProven, match="already refunds"):
        refunds.record_refund(creator.user, second_request.pk, txid, node)
    with pytest.raises(PaymentRefused, match="refunded already"):
        refunds.record_refund(creator.user, first_request.pk, txid, node)

    # then: the second is still open; the first was refunded once
    assert RefundRequest.objects.get(pk=second_request.pk).state == RefundRequest.State.OPEN
    assert RefundRequest.objects.filter(txid=txid).count() == 1


def test_another_creator_cannot_record_a_refund_on_someone_elses_request(
    devnet: Devnet,
    node: NodeClient,
    fan: User,
    creator: Creator,
    creator_wallet: Wallet,
    moderator: User,
) -> None:
    # given: a request to the creator, and a transfer that would prove it
    sale = settled_sale(devnet, fan, creator, moderator)
    request = ask(fan, sale)
    txid = solid(
        devnet, send_btt(devnet, creator_wallet, sale.fan_wallet.address, sale.invoice.amount_paid)
    )
    rival = Creator.objects.create(
        user=make_user("rival"), handle="rival", display_name="Rival", payout_address=""
    )

    # when: another creator records it, through the service and through the studio
    with pytest.raises(NotFound):
        refunds.record_refund(rival.user, request.pk, txid, node)
    client = Client()
    client.force_login(rival.user)
    response = client.post(f"/studio/refunds/{request.pk}/record/", {"txid": txid})
    studio = client.get("/studio/refunds/").content.decode()

    # then: refused, and the request is neither changed nor listed to them
    assert response.status_code == 404
    assert "data-refund-request" not in studio
    after = RefundRequest.objects.get(pk=request.pk)
    assert (after.state, after.txid) == (RefundRequest.State.OPEN, None)


def test_a_fan_cannot_ask_a_refund_for_a_purchase_not_theirs(
    devnet: Devnet, fan: User, stranger: User, creator: Creator, moderator: User
) -> None:
    # given: the fan's removed purchase
    with_wallet(creator)
    sale = settled_sale(devnet, fan, creator, moderator)
    VerifiedWallet.objects.create(
        user=stranger, address=funded_wallet(devnet).address, verified_at=timezone.now()
    )
    their_wallet = VerifiedWallet.objects.get(user=stranger).address

    # when: a stranger asks for its refund, to their own wallet, by service and by page
    with pytest.raises(NotFound):
        refunds.request_refund(stranger, sale.content.pk, their_wallet)
    client = Client()
    client.force_login(stranger)
    page = client.post(f"/library/{sale.content.pk}/refund/", {"address": their_wallet})

    # then: nothing of theirs, no request made
    assert page.status_code == 404
    assert not RefundRequest.objects.exists()


def test_a_fan_names_only_their_own_addresses_and_asks_once(
    devnet: Devnet, fan: User, creator: Creator, moderator: User
) -> None:
    with_wallet(creator)
    sale = settled_sale(devnet, fan, creator, moderator)
    someone_else = funded_wallet(devnet).address

    # a refund sent to an address the fan never proved is refused
    with pytest.raises(PaymentRefused, match="verified wallets"):
        refunds.request_refund(fan, sale.content.pk, someone_else)
    assert not RefundRequest.objects.exists()

    # asking twice (or with another address) is the same one request
    first, created = refunds.request_refund(fan, sale.content.pk, sale.fan_wallet.address)
    again, created_again = refunds.request_refund(fan, sale.content.pk, someone_else)
    assert (created, created_again, again.pk, again.address) == (
        True,
        False,
        first.pk,
        sale.fan_wallet.address,
    )
    assert RefundRequest.objects.count() == 1


def test_a_purchase_still_available_is_not_refunded_through_the_platform(
    devnet: Devnet, fan: User, creator: Creator, moderator: User
) -> None:
    with_wallet(creator)
    sale = settled_sale(devnet, fan, creator, moderator)
    swarm.restore_content(moderator, sale.content.pk)

    with pytest.raises(refunds.NotRefundable):
        refunds.request_refund(fan, sale.content.pk, sale.fan_wallet.address)
    assert not RefundRequest.objects.exists()


def test_the_studio_says_why_a_txid_is_refused_and_changes_nothing(
    devnet: Devnet,
    fan: User,
    creator: Creator,
    creator_wallet: Wallet,
    moderator: User,
    settings: Any,
) -> None:
    settings.TRON_API_URL = devnet.url
    sale = settled_sale(devnet, fan, creator, moderator)
    request = ask(fan, sale)
    stranger = funded_wallet(devnet, trx=100_000_000, trc20=1_000 * BTT)
    txid = solid(
        devnet, send_btt(devnet, stranger, sale.fan_wallet.address, sale.invoice.amount_paid)
    )
    client = Client()
    client.force_login(creator.user)

    response = client.post(f"/studio/refunds/{request.pk}/record/", {"txid": txid})

    assert response.status_code == 409
    assert "not sent from your payout address" in response.content.decode()
    assert RefundRequest.objects.get(pk=request.pk).state == RefundRequest.State.OPEN
