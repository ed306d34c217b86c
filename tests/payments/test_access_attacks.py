"""The attacks that once gave access without paying, written as the attacker would run them.

Each was reproduced against the running product before the access ledger: claiming a
stranger's transfer, paying a settled amount again so it lands on someone else's invoice, and
keeping access after a re-bought purchase's payment was dropped. Transfers are built as a node
answers (``tests.payments.tron_json``) and credited through the same public entry points the
watcher and the claim verification use.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings

from accounts.models import User
from creators.models import Creator
from ledger import access
from payments import claims, crediting, invoices, reconciliation
from payments.errors import PaymentRefused, ProofRequired, TooManyOpenInvoices
from payments.models import Invoice, Payment, TxClaim, UnmatchedTransfer
from payments.money import Amount, Token
from purchases import services as purchases
from tests.fixtures.personas import make_user
from tests.payments.factories import (
    FAN_ADDRESS,
    FAN_SEED,
    STRANGER_ADDRESS,
    paid_content,
    paying,
    proven,
    proven_claim,
    with_wallet,
)

pytestmark = pytest.mark.django_db
STRANGER_SEED = 3  # the key of STRANGER_ADDRESS


@pytest.mark.parametrize("stray_btt", [15, 3])
def test_an_attacker_cannot_claim_a_strangers_stray_transfer(
    fan: User, creator: Creator, stray_btt: int
) -> None:
    # given: the attacker (fan) holds an invoice for a 15 BTT album; a stranger, unrelated,
    # sends a stray 15 (or 3) BTT to the creator's address, which finance keeps
    with_wallet(creator)
    album = paid_content(creator, price=Amount.parse("15", Token.BTT))
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    stray = paying(invoice, units=stray_btt * 10**18, sender=STRANGER_ADDRESS)
    assert crediting.record_transfer(proven(*stray), solidified=True) is None
    assert reconciliation.open_transfers().count() == 1

    # when: the attacker reads the txid off the chain and claims it, signing with their own
    # wallet (the only one they can sign with)
    claim, _ = proven_claim(fan, invoice, stray[0]["txID"], signer_seed=FAN_SEED)
    claim = claims.check_claim(claim.pk, *stray, solidified=True)

    # then: refused; nothing credited, not even as a partial; finance still has the transfer
    assert claim.state == TxClaim.State.REFUSED
    assert not Payment.objects.exists()
    invoice.refresh_from_db()
    assert (invoice.state, invoice.amount_paid, invoice.partial) == ("new", 0, False)
    assert UnmatchedTransfer.objects.get().state == UnmatchedTransfer.State.OPEN
    assert not access.may_fetch(fan, album)


def test_a_claim_with_no_proof_at_all_is_refused_before_it_touches_anything(
    fan: User, creator: Creator
) -> None:
    with_wallet(creator)
    album = paid_content(creator)
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    stray = paying(invoice, units=10**20, sender=STRANGER_ADDRESS)
    crediting.record_transfer(proven(*stray), solidified=True)

    with pytest.raises(ProofRequired):
        claims.claim_transaction(fan, invoice, stray[0]["txID"])

    assert not TxClaim.objects.exists()
    assert UnmatchedTransfer.objects.get().state == UnmatchedTransfer.State.OPEN


def test_an_attackers_pending_claim_does_not_block_the_real_payers_claim(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: the stranger pays their own invoice from their wallet; the attacker (fan) claims
    # that txid first for their own invoice, before the block is even seen
    with_wallet(creator)
    album = paid_content(creator)
    attacker_invoice, _ = purchases.create_purchase_invoice(fan, album)
    payer_invoice, _ = purchases.create_purchase_invoice(stranger, album)
    payment = paying(payer_invoice, sender=STRANGER_ADDRESS)
    txid = payment[0]["txID"]
    attackers, _ = proven_claim(fan, attacker_invoice, txid, signer_seed=FAN_SEED)

    # when: the real payer's page claims it, signed by the sending wallet, and both are checked
    payers, created = proven_claim(stranger, payer_invoice, txid, signer_seed=STRANGER_SEED)
    attackers = claims.check_claim(attackers.pk, *payment, solidified=True)
    payers = claims.check_claim(payers.pk, *payment, solidified=True)

    # then: the payer's claim was taken and verified; the attacker's refused
    assert created
    assert (payers.state, attackers.state) == ("verified", "refused")
    assert access.may_fetch(stranger, album)
    assert not access.may_fetch(fan, album)


def test_a_repeated_payment_of_a_settled_amount_never_pays_another_fans_invoice(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: fan A pays 100.000001 and is settled
    with_wallet(creator)
    album = paid_content(creator)
    first, _ = purchases.create_purchase_invoice(fan, album)
    crediting.record_transfer(proven(*paying(first, seq=1)), solidified=True)
    first.refresh_from_db()
    assert first.state == Invoice.State.SETTLED

    # when: fan B asks for the same album, and A's wallet sends the same payment again
    second, _ = purchases.create_purchase_invoice(stranger, album)
    again = proven(*paying(first, seq=2, after=timedelta(minutes=2)))
    crediting.record_transfer(again, solidified=True)

    # then: B was given another amount; A's repeat is kept for finance, never B's payment
    assert second.amount_due != first.amount_due
    second.refresh_from_db()
    assert (second.state, second.amount_paid) == (Invoice.State.NEW, 0)
    assert not access.may_fetch(stranger, album)
    kept = UnmatchedTransfer.objects.get()
    assert (kept.txid, kept.sender) == (again.txid, FAN_ADDRESS)
    first.refresh_from_db()
    assert (first.over, first.amount_paid) == (False, first.amount_due)  # not A's "over" either


def test_a_tag_stays_reserved_for_the_late_window_after_settling_dropping_or_expiring(
    fan: User, creator: Creator
) -> None:
    with_wallet(creator)
    album = paid_content(creator)
    taken = set()
    for n in range(3):
        buyer = make_user(f"buyer{n}")
        invoice, _ = purchases.create_purchase_invoice(buyer, album)
        taken.add(invoice.amount_due)
        if n == 0:  # settled
            crediting.record_transfer(proven(*paying(invoice, seq=10)), solidified=True)
        elif n == 1:  # paid, then the payment dropped
            transfer = proven(*paying(invoice, seq=11))
            crediting.record_transfer(transfer, solidified=False)
            crediting.drop_transfer(transfer.txid, transfer.log_index)
        else:  # expired
            invoices.expire_invoices(now=invoice.expires_at + timedelta(seconds=1))
    states = set(Invoice.objects.values_list("state", flat=True))
    assert states == {"settled", "invalid", "expired"}

    fresh, _ = purchases.create_purchase_invoice(fan, album)

    assert fresh.amount_due not in taken


@override_settings(PAYMENTS_TRC10_ENABLED=True)
def test_btt_and_bttold_share_one_tag_space_on_an_address(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: a BTT invoice for 7 BTT shows "7.000001"
    with_wallet(creator)
    in_btt = paid_content(creator, "In BTT", price=Amount.parse("7", Token.BTT))
    in_old = paid_content(creator, "In BTTOLD", price=Amount.parse("7", Token.BTTOLD))
    first, _ = purchases.create_purchase_invoice(fan, in_btt)

    # when: another fan buys for 7 BTTOLD on the same address
    second, _ = purchases.create_purchase_invoice(stranger, in_old)

    # then: two different numbers on screen
    assert first.due.decimal_string() == "7.000001"
    assert second.due.decimal_string() == "7.000002"


@override_settings(PAYMENTS_INSTANT_GRANT_UNITS={"BTT": 10**30})
def test_rebuying_then_a_second_dropped_payment_leaves_no_access(
    fan: User, creator: Creator
) -> None:
    # given: a purchase granted at the first confirmation, whose payment then dropped
    with_wallet(creator)
    album = paid_content(creator)
    first, _ = purchases.create_purchase_invoice(fan, album)
    one = proven(*paying(first, seq=21))
    crediting.record_transfer(one, solidified=False)
    assert access.may_fetch(fan, album)
    crediting.drop_transfer(one.txid, one.log_index)
    assert not access.may_fetch(fan, album)

    # when: the fan buys again, is granted at the first confirmation, and that payment drops too
    second, created = purchases.create_purchase_invoice(fan, album)
    assert created
    two = proven(*paying(second, seq=22))
    crediting.record_transfer(two, solidified=False)
    assert access.may_fetch(fan, album)
    crediting.drop_transfer(two.txid, two.log_index)

    # then: no paying transaction, no access
    assert not access.may_fetch(fan, album)
    assert access.decide(fan, album).reason == access.NO_GRANT


def test_a_refund_takes_back_exactly_what_the_purchase_gave(fan: User, creator: Creator) -> None:
    with_wallet(creator)
    album = paid_content(creator)
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    crediting.record_transfer(proven(*paying(invoice, seq=31)), solidified=True)
    assert access.decide(fan, album).reason == "purchase"

    purchases.refund_purchase(Invoice.objects.get(pk=invoice.pk), "creator sent it back")

    assert not access.may_fetch(fan, album)


@pytest.mark.parametrize("price", ["990000000000000", "989999999999999.5", "990000000000000.1"])
def test_a_price_beyond_the_tokens_supply_is_refused(creator: Creator, price: str) -> None:
    with_wallet(creator)
    album = paid_content(creator)

    with pytest.raises(PaymentRefused, match="more than all"):
        purchases.set_content_price(creator.user, album, Amount.parse(price, Token.BTT))

    assert purchases.price_of(album) == Amount.parse("100", Token.BTT)


def test_expired_invoices_still_count_toward_a_fans_cap(fan: User, creator: Creator) -> None:
    with_wallet(creator)
    albums = [
        paid_content(creator, f"Album {n}") for n in range(invoices.MAX_OPEN_INVOICES_PER_PAYER)
    ]
    for album in albums:
        invoice, _ = purchases.create_purchase_invoice(fan, album)
    invoices.expire_invoices(now=invoice.expires_at + timedelta(seconds=1))

    with pytest.raises(TooManyOpenInvoices):
        purchases.create_purchase_invoice(fan, paid_content(creator, "One more"))


def test_unpaid_invoices_are_capped_per_client_address(creator: Creator) -> None:
    with_wallet(creator)
    album = paid_content(creator)
    for n in range(invoices.MAX_OPEN_INVOICES_PER_ORIGIN):
        purchases.create_purchase_invoice(make_user(f"sock{n}"), album, origin="203.0.113.9")

    with pytest.raises(TooManyOpenInvoices):
        purchases.create_purchase_invoice(make_user("sock-last"), album, origin="203.0.113.9")
    # another address is not held back
    purchases.create_purchase_invoice(make_user("neighbour"), album, origin="203.0.113.10")


def test_a_dropped_payment_mined_again_settles_its_invoice_and_grants(
    fan: User, creator: Creator
) -> None:
    # given: a paid invoice whose payment left the chain (the invoice turned invalid)
    with_wallet(creator)
    album = paid_content(creator)
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    transfer = proven(*paying(invoice, seq=41))
    crediting.record_transfer(transfer, solidified=False)
    crediting.drop_transfer(transfer.txid, transfer.log_index)
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.INVALID

    # when: the same transaction is mined again, and its block is solidified
    crediting.record_transfer(transfer, solidified=False)
    crediting.record_transfer(transfer, solidified=True)

    # then: paid in full in a final block: settled, and the fan has the album
    invoice.refresh_from_db()
    assert (invoice.state, invoice.amount_paid) == (Invoice.State.SETTLED, invoice.amount_due)
    assert access.decide(fan, album).reason == "purchase"
