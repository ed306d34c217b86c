"""Random sequences of buying, paying, claiming, dropping, expiring, taking down and refunding,
against four properties of the access ledger and the invoices (a Hypothesis state machine):

1. access is granted exactly when a live source pays for it: a fan may fetch a paid content iff
   it is published and one of the fan's purchase invoices for it is settled (or processing,
   under an instant grant) and was not refunded;
2. no transfer is credited twice: one Payment per (txid, log index), and every invoice's
   ``amount_paid`` is the sum of its payments that were not dropped;
3. no transfer is lost: each transfer on the chain is credited to one invoice or is on
   finance's list of unmatched transfers, never both, never neither; one that left the chain
   is neither;
4. a claim signed by a key that did not send the transfer never credits it by that claim.

Transfers are java-tron's own JSON answers (``tests.payments.tron_json``), proven by
``payments.chain.verification``, recorded as the chain watcher records them; no node runs. Each
example runs inside a savepoint that is rolled back after it, so no example sees another's rows
(``initialize`` checks that the tables are empty).
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from accounts.models import User
from creators.models import Creator
from ledger import access
from ledger.models import Grant
from payments import claims, crediting, invoices, reconciliation
from payments.chain.verification import ChainTransfer, Verified, verify_transfers
from payments.errors import ClaimConflict, PaymentRefused, TooManyClaims, TooManyOpenInvoices
from payments.models import Invoice, Payment, TxClaim, UnmatchedTransfer
from payments.money import Token
from purchases import services as purchases
from swarm import services as swarm
from swarm.models import Content
from tests.fixtures.properties import state_machine_settings
from tests.payments.factories import CREATOR_ADDRESS, FAN_SEED, paid_content, proven_claim
from tests.payments.tron_json import address_of, at, trc20_transfer

State = Invoice.State

FAN_B_SEED = 5
STRANGER_SEED = 3
OTHER_SEED = 4
SEED_OF = {address_of(seed): seed for seed in (FAN_SEED, FAN_B_SEED, STRANGER_SEED, OTHER_SEED)}
OVER = 5 * 10**17  # 0.5 BTT on top of what is due
INSTANT_LIMIT = {Token.BTT.value: 10**24}  # every purchase here grants at the first block

# Unique across examples (and runs in one process): usernames, handles, txids, block numbers.
_serial = itertools.count(1)


@dataclass
class Sent:
    """A transfer this machine put on the chain, as the watcher would see it now."""

    transaction: dict[str, Any]
    info: dict[str, Any]
    transfer: ChainTransfer
    kind: str
    dropped: bool = False
    solid: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return self.transfer.txid, self.transfer.log_index


@dataclass
class Claimed:
    claim_id: int
    sent: Sent
    invoice_id: uuid.UUID
    proven: bool  # signed by the key of the transfer's sender


def verified(transaction_json: dict[str, Any], info: dict[str, Any]) -> ChainTransfer:
    result = verify_transfers(transaction_json, info, token=Token.BTT, recipients={CREATOR_ADDRESS})
    assert isinstance(result, Verified), result
    (transfer,) = result.transfers
    return transfer


class LedgerMachine(RuleBasedStateMachine):
    instant = False  # purchases grant when settled (PAYMENTS_INSTANT_GRANT_UNITS unset)

    def __init__(self) -> None:
        super().__init__()
        self._example = transaction.atomic()
        self._example.__enter__()
        self.sent: list[Sent] = []
        self.claims: list[Claimed] = []
        self.invoice_ids: list[uuid.UUID] = []
        self.refunded: set[uuid.UUID] = set()
        self.published: dict[str, bool] = {}

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._example.__exit__(None, None, None)

    # --- the world ----------------------------------------------------------------------------

    @initialize()
    def world(self) -> None:
        for model in (Invoice, Payment, UnmatchedTransfer, TxClaim, Grant, Content):
            assert not model.objects.exists(), f"{model.__name__} rows from another example"
        n = next(_serial)

        def user(name: str, **extra: Any) -> User:
            return User.objects.create_user(
                username=f"{name}-{n}", email=f"{name}-{n}@example.com", password=None, **extra
            )

        self.fans = {"A": user("fan-a"), "B": user("fan-b")}
        self.address = {"A": address_of(FAN_SEED), "B": address_of(FAN_B_SEED)}
        self.staff = user("staff", is_staff=True)
        self.creator = Creator.objects.create(
            user=user("maker"),
            handle=f"maker-{n}",
            display_name="The Maker",
            payout_address=CREATOR_ADDRESS,
        )
        self.contents = {name: paid_content(self.creator, f"{name}{n}") for name in ("X", "Y")}
        self.published = {name: True for name in self.contents}

    def _fan_of(self, invoice: Invoice) -> str:
        return next(name for name, fan in self.fans.items() if fan.pk == invoice.payer_id)

    def _content_name(self, invoice: Invoice) -> str:
        return next(name for name, c in self.contents.items() if c.pk == invoice.content_id)

    def _invoice(self, i: int) -> Invoice:
        return Invoice.objects.select_related("creator").get(
            pk=self.invoice_ids[i % len(self.invoice_ids)]
        )

    def _paying_states(self) -> list[str]:
        return [State.SETTLED, State.PROCESSING] if self.instant else [State.SETTLED]

    def _expected_access(self, fan: str, content: str) -> bool:
        paid = (
            Invoice.objects.filter(
                payer=self.fans[fan],
                content=self.contents[content],
                kind=Invoice.Kind.PURCHASE,
                state__in=self._paying_states(),
            )
            .exclude(pk__in=self.refunded)
            .exists()
        )
        return self.published[content] and paid

    def _send(self, invoice: Invoice, units: int, sender: str, kind: str, late: bool) -> Sent:
        moment = invoice.expires_at if late else invoice.created_at
        serial = next(_serial)
        tx, info = trc20_transfer(
            sender=sender,
            recipient=CREATOR_ADDRESS,
            units=units,
            block=70_000_000 + serial,
            block_time_ms=at(moment + timedelta(minutes=1)),
            seq=serial,
        )
        sent = Sent(tx, info, verified(tx, info), kind)
        self.sent.append(sent)
        return sent

    # --- buying ---------------------------------------------------------------------------

    # Hypothesis prefers rules with fewer arguments, then by name: a fan and a content in one
    # argument make buying (harmless when repeated) the rule it falls back on most.
    @rule(purchase=st.sampled_from([("A", "X"), ("A", "Y"), ("B", "X"), ("B", "Y")]))
    def buy(self, purchase: tuple[str, str]) -> None:
        fan, content = purchase
        owned = self._expected_access(fan, content)
        try:
            # As a request would: the content as it is now.
            current = Content.objects.get(pk=self.contents[content].pk)
            invoice, created = purchases.create_purchase_invoice(self.fans[fan], current)
        except purchases.NotForSale:
            assert not self.published[content]
            event("buy: not for sale")
            return
        except purchases.AlreadyOwned:
            assert self.published[content]
            assert owned
            event("buy: already owned")
            return
        except TooManyOpenInvoices:
            event("buy: too many open")
            return
        assert self.published[content]
        assert not owned
        if created:
            assert invoice.pk not in self.invoice_ids
            self.invoice_ids.append(invoice.pk)
            event("buy: new invoice")
        else:
            assert invoice.pk in self.invoice_ids
            assert invoice.state in (State.NEW, State.PROCESSING)
            event("buy: open invoice again")

    # --- paying ---------------------------------------------------------------------------

    @precondition(lambda self: self.invoice_ids)
    @rule(
        i=st.integers(0, 63),
        kind=st.sampled_from(["exact", "partial", "over", "repeat", "late"]),
        from_stranger=st.booleans(),
        open_one=st.booleans(),
    )
    def pay(self, i: int, kind: str, from_stranger: bool, open_one: bool) -> None:
        invoice = self._invoice(i)
        if open_one:  # mostly an invoice still waiting for its money
            waiting = list(
                Invoice.objects.filter(pk__in=self.invoice_ids, state=State.NEW)
                .select_related("creator")
                .order_by("created_at", "pk")
            )
            invoice = waiting[i % len(waiting)] if waiting else invoice
        units = invoice.amount_due
        if kind == "partial":
            units = invoice.amount_due // 2
        elif kind == "over":
            units = invoice.amount_due + OVER
        elif kind == "repeat":
            exact = [s for s in self.sent if s.kind in ("exact", "repeat")]
            if exact:
                earlier = exact[i % len(exact)].transfer
                units = earlier.amount.units
                matches = Invoice.objects.filter(amount_due=units)
                invoice = matches.select_related("creator").get()
        sender = address_of(STRANGER_SEED) if from_stranger else self.address[self._fan_of(invoice)]
        payable = invoice.state == State.NEW and invoice.amount_paid == 0
        sent = self._send(invoice, units, sender, kind, late=kind == "late")
        payment = crediting.record_transfer(sent.transfer, solidified=False)
        if kind in ("exact", "late") and payable:
            # The unique amount names the invoice, whoever sends it, in time or late.
            assert payment is not None
            assert payment.invoice_id == invoice.pk
        event(f"pay {kind}: {'credited' if payment else 'unmatched'}")

    @precondition(lambda self: any(not s.dropped and not s.solid for s in self.sent))
    @rule(i=st.integers(0, 63))
    def solidify(self, i: int) -> None:
        waiting = [s for s in self.sent if not s.dropped and not s.solid]
        sent = waiting[i % len(waiting)]
        if Payment.objects.filter(txid=sent.transfer.txid).exists():
            crediting.solidify_transfer(*sent.key)
            event("solidified a payment")
        else:  # the watcher records an unmatched transfer again with its solidified block
            credited = crediting.record_transfer(sent.transfer, solidified=True)
            event(f"solidified an unmatched transfer: credited={credited is not None}")
        sent.solid = True

    @precondition(lambda self: any(not s.dropped and not s.solid for s in self.sent))
    @rule(i=st.integers(0, 63))
    def drop(self, i: int) -> None:
        waiting = [s for s in self.sent if not s.dropped and not s.solid]
        sent = waiting[i % len(waiting)]
        if Payment.objects.filter(txid=sent.transfer.txid).exists():
            payment = crediting.drop_transfer(*sent.key)
            assert payment is not None
            assert payment.dropped_at is not None
            event("dropped a payment")
        else:  # as the watcher does for a kept transfer that left the chain
            assert reconciliation.drop_unmatched(*sent.key) is not None
            event("dropped an unmatched transfer")
        sent.dropped = True

    @precondition(lambda self: any(s.dropped for s in self.sent))
    @rule(i=st.integers(0, 63))
    def mine_again(self, i: int) -> None:
        dropped = [s for s in self.sent if s.dropped]
        sent = dropped[i % len(dropped)]
        # Rebroadcast: the same transaction (and txid) in a later block.
        sent.info = dict(sent.info, blockNumber=sent.info["blockNumber"] + 1_000_000)
        sent.transfer = verified(sent.transaction, sent.info)
        payment = crediting.record_transfer(sent.transfer, solidified=False)
        event(f"mined again: credited={payment is not None}")
        sent.dropped = False

    # --- claims ---------------------------------------------------------------------------

    @precondition(lambda self: self.sent and self.invoice_ids)
    @rule(t=st.integers(0, 63), i=st.integers(0, 63), proof=st.booleans())
    def claim(self, t: int, i: int, proof: bool) -> None:
        sent = self.sent[t % len(self.sent)]
        invoice = self._invoice(i)
        sender_seed = SEED_OF[sent.transfer.sender]
        seed = sender_seed if proof else next(s for s in SEED_OF.values() if s != sender_seed)
        assert invoice.payer is not None
        try:
            claim, created = proven_claim(invoice.payer, invoice, sent.transfer.txid, seed)
        except ClaimConflict:
            assert Payment.objects.filter(txid=sent.transfer.txid).exclude(invoice=invoice).exists()
            event("claim: conflict")
            return
        except TooManyClaims:
            event("claim: too many")
            return
        if created:
            self.claims.append(Claimed(claim.pk, sent, invoice.pk, proof))
        event(f"claim {'proven' if proof else 'unproven'} new={created}")

    @precondition(lambda self: any(not c.sent.dropped for c in self.claims))
    @rule(i=st.integers(0, 63), via_node=st.booleans())
    def apply_claim(self, i: int, via_node: bool) -> None:
        on_chain = [c for c in self.claims if not c.sent.dropped]
        claimed = on_chain[i % len(on_chain)]
        sent = claimed.sent
        if via_node:  # what the claim worker does with the node's answers
            claims.check_claim(claimed.claim_id, sent.transaction, sent.info, solidified=sent.solid)
        else:
            claim = TxClaim.objects.select_related("invoice", "claimed_by").get(pk=claimed.claim_id)
            crediting.record_transfer(sent.transfer, solidified=sent.solid, claim=claim)
        credited = Payment.objects.filter(
            txid=sent.transfer.txid, invoice_id=claimed.invoice_id
        ).exists()
        event(f"apply {'proven' if claimed.proven else 'unproven'}: {credited}")

    # --- time, the creator, staff ---------------------------------------------------------

    @precondition(lambda self: self.invoice_ids)
    @rule(i=st.integers(0, 63))
    def expire(self, i: int) -> None:
        invoice = self._invoice(i)
        expired = invoices.expire_invoices(now=invoice.expires_at + timedelta(seconds=1))
        event(f"expired {min(expired, 2)}+")

    @precondition(lambda self: any(s.kind == "late" for s in self.sent))
    @rule(i=st.integers(0, 63))
    def take_late_payment(self, i: int) -> None:
        invoice = self._invoice(i)
        acceptable = invoice.state == State.EXPIRED and invoice.amount_paid >= invoice.amount_due
        try:
            crediting.accept_late_payment(self.creator.user, invoice)
        except PaymentRefused:
            assert not acceptable
            event("late refused")
            return
        assert acceptable
        event("late accepted")

    @precondition(lambda self: self.invoice_ids)  # once someone bought something
    @rule(content=st.sampled_from("XY"))
    def moderate(self, content: str) -> None:
        """Staff take a published content down, or restore one that is down."""
        pk = self.contents[content].pk
        if self.published[content]:
            swarm.take_down_content(self.staff, pk, "copyright claim")
            with pytest.raises(swarm.ModerationRefused):
                swarm.take_down_content(self.staff, pk, "again")
        else:
            swarm.restore_content(self.staff, pk, "claim withdrawn")
            with pytest.raises(swarm.ModerationRefused):
                swarm.restore_content(self.staff, pk, "again")
        self.published[content] = not self.published[content]
        self.contents[content].refresh_from_db()
        event("restored" if self.published[content] else "taken down")

    @precondition(lambda self: self.invoice_ids)
    @rule(i=st.integers(0, 63))
    def refund(self, i: int) -> None:
        settled = list(
            Invoice.objects.filter(pk__in=self.invoice_ids, state=State.SETTLED).order_by(
                "created_at", "pk"
            )
        )
        if not settled:
            return
        invoice = settled[i % len(settled)]
        taken_back = purchases.refund_purchase(invoice, "returned by the creator")
        assert taken_back == (0 if invoice.pk in self.refunded else 1)
        event("refunded" if taken_back else "refunded again")
        self.refunded.add(invoice.pk)

    # --- the properties -------------------------------------------------------------------

    @invariant()
    def access_is_granted_exactly_when_a_live_source_pays(self) -> None:
        if not self.published:
            return
        # From the invoices' states and this machine's refunds and takedowns, not from grants.
        paying = set(
            Invoice.objects.filter(kind=Invoice.Kind.PURCHASE, state__in=self._paying_states())
            .exclude(pk__in=self.refunded)
            .values_list("payer_id", "content_id")
        )
        contents = Content.objects.select_related("creator").in_bulk(
            [content.pk for content in self.contents.values()]
        )
        for name, content in self.contents.items():
            current = contents[content.pk]
            assert current.is_published == self.published[name]
            for fan, user in self.fans.items():
                expected = self.published[name] and (user.pk, content.pk) in paying
                decision = access.decide(user, current)
                assert decision.allowed == expected, (fan, name, decision)

    @invariant()
    def no_transfer_is_credited_twice(self) -> None:
        rows = list(
            Payment.objects.values_list("txid", "log_index", "invoice_id", "units", "dropped_at")
        )
        keys = Counter((txid, log_index) for txid, log_index, *_ in rows)
        assert all(count == 1 for count in keys.values()), keys
        counted: Counter[uuid.UUID] = Counter()
        for _, _, invoice_id, units, dropped_at in rows:
            assert invoice_id in self.invoice_ids
            if dropped_at is None:
                counted[invoice_id] += units
        for invoice_id, paid in Invoice.objects.values_list("pk", "amount_paid"):
            assert paid == counted[invoice_id], (invoice_id, paid, counted[invoice_id])

    @invariant()
    def no_transfer_is_lost(self) -> None:
        payments = {
            (txid, log_index): (units, sender, dropped_at)
            for txid, log_index, units, sender, dropped_at in Payment.objects.values_list(
                "txid", "log_index", "units", "sender", "dropped_at"
            )
        }
        on_list = set(reconciliation.open_transfers().values_list("txid", "log_index"))
        for sent in self.sent:
            payment = payments.get(sent.key)
            if payment is not None:
                assert payment[:2] == (sent.transfer.amount.units, sent.transfer.sender)
            credited = payment is not None and payment[2] is None
            kept = sent.key in on_list
            if sent.dropped:
                assert not credited, sent.key
                assert not kept, sent.key
            else:
                assert credited != kept, (sent.key, sent.kind, credited, kept)

    @invariant()
    def an_unproven_claim_never_credits(self) -> None:
        for claimed in self.claims:
            if claimed.proven:
                continue
            assert not Payment.objects.filter(
                txid=claimed.sent.transfer.txid,
                invoice_id=claimed.invoice_id,
                matched_by=Payment.MatchedBy.CLAIM,
            ).exists(), claimed


class InstantLedgerMachine(LedgerMachine):
    """Purchases grant at the first block (PAYMENTS_INSTANT_GRANT_UNITS above every price)."""

    instant = True


@pytest.mark.long
@pytest.mark.django_db
@pytest.mark.parametrize("instant", [False, True], ids=["grant-when-settled", "instant-grant"])
def test_the_ledger_and_invoices_keep_their_properties_under_random_sequences(
    instant: bool,
) -> None:
    with override_settings(PAYMENTS_INSTANT_GRANT_UNITS=INSTANT_LIMIT if instant else {}):
        run_state_machine_as_test(
            InstantLedgerMachine if instant else LedgerMachine,
            settings=state_machine_settings(20 if instant else 25),
        )
