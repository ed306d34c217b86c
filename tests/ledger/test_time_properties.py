"""Memberships and rentals under random sequences of joining, renting, paying, confirming,
dropping, using, cancelling, taking down and the clock moving by hours to weeks, against the
access ledger's one property (a Hypothesis state machine): access exactly when a live, paid
source covers "now". Money moves as the watcher moves it (``payments.crediting``: a transfer in a
block, confirmed, or dropped from the chain and mined again); renewals and expiry run as beat
runs them.

1. a fan may fetch a member content iff a confirmed period of theirs, of a tier that covers it,
   or their grace period (a renewal issued and still payable) covers now, and it is published;
   a rented content iff a confirmed rental covers now: from its first payment to the earlier of
   its latest end and a window after its first use, as this machine saw them;
2. no paid period is lost or granted twice: every confirmed membership invoice pays one period,
   a whole billing period long, and a membership's paid periods never overlap;
3. a grace period stands only while its renewal may still be paid: never after a cancel.

Each example runs inside a savepoint rolled back after it, with the platform clock at zero.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
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
from memberships import renewals
from memberships import services as memberships
from memberships.models import Membership, MembershipPeriod, Tier, period_end
from memberships.services import MembershipRefused, TierFull
from payments import crediting, invoices
from payments.chain.verification import ChainTransfer, Verified, verify_transfers
from payments.errors import TooManyOpenInvoices
from payments.models import Invoice
from payments.money import Amount, Token
from purchases import rentals
from purchases.models import Rental
from purchases.services import AlreadyOwned, NotForSale
from swarm import services as swarm
from swarm.models import Content
from tests.fixtures.clock import Clock
from tests.fixtures.properties import state_machine_settings
from tests.payments.factories import CREATOR_ADDRESS, FAN_SEED, paid_content
from tests.payments.tron_json import address_of, at, trc20_transfer

State = Invoice.State
FAN_B_SEED = 5
WINDOW_HOURS = 48
START_WITHIN_DAYS = 7
HOURS = [1, 6, 30, 24 * 4, 24 * 9, 24 * 24]

_serial = itertools.count(1)


@dataclass
class Sent:
    transaction: dict[str, Any]
    info: dict[str, Any]
    transfer: ChainTransfer
    invoice_id: Any
    dropped: bool = False
    solid: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return self.transfer.txid, self.transfer.log_index


def proven(transaction_json: dict[str, Any], info: dict[str, Any]) -> ChainTransfer:
    """The transfer as the watcher verifies it (the creator's address watched throughout)."""
    result = verify_transfers(transaction_json, info, token=Token.BTT, recipients={CREATOR_ADDRESS})
    assert isinstance(result, Verified), result
    (transfer,) = result.transfers
    return transfer


class TimedAccessMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._example = transaction.atomic()
        self._example.__enter__()
        offset_file = settings.CLOCK_OFFSET_FILE
        assert offset_file, "CLOCK_OFFSET_FILE is set by tests/environment.py"
        self.clock = Clock(Path(offset_file))
        self.sent: list[Sent] = []
        self.published = {"low": True, "high": True, "rent": True}
        # What this machine saw: when each rental was first confirmed and first used.
        self.rental_paid: dict[Any, datetime] = {}
        self.rental_used: dict[Any, datetime] = {}

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._example.__exit__(None, None, None)
        self.clock.set(timedelta(0))

    @initialize()
    def world(self) -> None:
        for model in (Invoice, Grant, Membership, Rental, Content):
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
            user=user("maker"), handle=f"maker-{n}", display_name="Maker",
            payout_address=CREATOR_ADDRESS,
        )  # fmt: skip
        price = Amount.parse("10", Token.BTT)
        self.tiers = {
            "low": memberships.save_tier(self.creator, name="Fan", monthly=price, rank=1),
            "high": memberships.save_tier(
                self.creator, name="Patron", monthly=Amount.parse("25", Token.BTT), rank=2,
                member_limit=1,
            ),
        }  # fmt: skip
        self.contents = {name: paid_content(self.creator, f"{name}{n}") for name in self.published}
        for name in ("low", "high"):
            memberships.mark_for_members(self.creator.user, self.contents[name], self.tiers[name])
        rentals.set_rental_terms(
            self.creator.user,
            self.contents["rent"],
            Amount.parse("3", Token.BTT),
            WINDOW_HOURS,
            START_WITHIN_DAYS,
        )

    # --- fans --------------------------------------------------------------------------------

    @rule(fan=st.sampled_from("AB"), tier=st.sampled_from(["low", "high"]))
    def join(self, fan: str, tier: str) -> None:
        try:
            memberships.join(self.fans[fan], self.tiers[tier])
        except TierFull:
            event("join: full")
        except (MembershipRefused, TooManyOpenInvoices) as refused:
            event(f"join: {type(refused).__name__}")
        else:
            event("join")

    @rule(fan=st.sampled_from("AB"))
    def rent(self, fan: str) -> None:
        current = Content.objects.get(pk=self.contents["rent"].pk)
        try:
            rentals.create_rental_invoice(self.fans[fan], current)
        except AlreadyOwned:
            assert self._rental_covers(fan, self.clock.now())
            event("rent: running")
        except (NotForSale, TooManyOpenInvoices) as refused:
            event(f"rent: {type(refused).__name__}")
        else:
            event("rent")

    @precondition(lambda self: Membership.objects.exists())
    @rule(fan=st.sampled_from("AB"))
    def pay_now(self, fan: str) -> None:
        membership = Membership.objects.filter(fan=self.fans[fan]).order_by("-pk").first()
        if membership is None:
            return
        try:
            memberships.pay_now(self.fans[fan], membership)
        except (MembershipRefused, TooManyOpenInvoices) as refused:
            event(f"pay now: {type(refused).__name__}")

    @precondition(lambda self: Membership.objects.exists())
    @rule(fan=st.sampled_from("AB"))
    def cancel(self, fan: str) -> None:
        for membership in Membership.objects.filter(fan=self.fans[fan]):
            before = membership.state
            memberships.cancel(self.fans[fan], membership)
            # A grace is access kept while the renewal may be paid: a cancel withdraws both.
            graces = membership.periods.filter(kind="grace", voided_at__isnull=True)
            assert not graces.exists(), membership
            event(f"cancel from {before}")

    @rule(fan=st.sampled_from("AB"))
    def use_rental(self, fan: str) -> None:
        now = self.clock.now()
        current = Content.objects.get(pk=self.contents["rent"].pk)
        decision = access.decide_for_use(self.fans[fan], current, now)
        if decision.allowed and decision.reason == Grant.Source.RENTAL:
            rental = self._running_rental(fan, now)
            assert rental is not None
            self.rental_used.setdefault(rental, now)
            event("rental used")

    # --- money ---------------------------------------------------------------------------

    @precondition(lambda self: Invoice.objects.filter(state=State.NEW).exists())
    @rule(i=st.integers(0, 15), fan_pays=st.booleans())
    def pay(self, i: int, fan_pays: bool) -> None:
        now = self.clock.now()
        waiting = list(
            Invoice.objects.filter(state=State.NEW, expires_at__gt=now).order_by("created_at")
        )
        if not waiting:
            return
        invoice = waiting[i % len(waiting)]
        fan = next(name for name, user in self.fans.items() if user.pk == invoice.payer_id)
        serial = next(_serial)
        tx, info = trc20_transfer(
            sender=self.address[fan] if fan_pays else address_of(3),
            recipient=CREATOR_ADDRESS,
            units=invoice.amount_due,
            block=80_000_000 + serial,
            block_time_ms=at(now + timedelta(seconds=3)),
            seq=serial,
        )
        sent = Sent(tx, info, proven(tx, info), invoice.pk)
        self.sent.append(sent)
        payment = crediting.record_transfer(sent.transfer, solidified=False)
        assert payment is not None
        assert payment.invoice_id == invoice.pk
        event(f"pay {invoice.kind}")

    @precondition(lambda self: any(not s.dropped and not s.solid for s in self.sent))
    @rule(i=st.integers(0, 15))
    def confirm(self, i: int) -> None:
        waiting = [s for s in self.sent if not s.dropped and not s.solid]
        sent = waiting[i % len(waiting)]
        crediting.solidify_transfer(*sent.key)
        sent.solid = True
        invoice = Invoice.objects.get(pk=sent.invoice_id)
        if invoice.kind == Invoice.Kind.RENTAL and invoice.state == State.SETTLED:
            self.rental_paid.setdefault(invoice.pk, self.clock.now())
        event(f"confirmed {invoice.kind}: {invoice.state}")

    @precondition(lambda self: any(not s.dropped and not s.solid for s in self.sent))
    @rule(i=st.integers(0, 15))
    def drop(self, i: int) -> None:
        waiting = [s for s in self.sent if not s.dropped and not s.solid]
        sent = waiting[i % len(waiting)]
        assert crediting.drop_transfer(*sent.key) is not None
        sent.dropped = True
        event("dropped")

    @precondition(lambda self: any(s.dropped for s in self.sent))
    @rule(i=st.integers(0, 15))
    def mine_again(self, i: int) -> None:
        dropped = [s for s in self.sent if s.dropped]
        sent = dropped[i % len(dropped)]
        sent.info = dict(sent.info, blockNumber=sent.info["blockNumber"] + 1_000_000)
        sent.transfer = proven(sent.transaction, sent.info)
        crediting.record_transfer(sent.transfer, solidified=False)
        sent.dropped = False
        event("mined again")

    # --- time and staff ------------------------------------------------------------------

    @rule(hours=st.sampled_from(HOURS))
    def time_passes(self, hours: int) -> None:
        now = self.clock.advance(timedelta(hours=hours))
        renewals.renew_memberships(now)
        invoices.expire_invoices(now)
        for state in set(Membership.objects.values_list("state", flat=True)):
            event(f"a membership {state}")

    @precondition(lambda self: Invoice.objects.exists())
    @rule(content=st.sampled_from(["low", "rent"]))
    def moderate(self, content: str) -> None:
        pk = self.contents[content].pk
        if self.published[content]:
            swarm.take_down_content(self.staff, pk, "copyright claim")
        else:
            swarm.restore_content(self.staff, pk, "claim withdrawn")
        self.published[content] = not self.published[content]
        event("restored" if self.published[content] else "taken down")

    # --- what this machine expects -------------------------------------------------------

    def _running_rental(self, fan: str, now: datetime) -> Any:
        for invoice_id, paid in self.rental_paid.items():
            invoice = Invoice.objects.get(pk=invoice_id)
            if invoice.payer_id != self.fans[fan].pk or invoice.state != State.SETTLED:
                continue
            end = paid + timedelta(days=START_WITHIN_DAYS)
            if invoice_id in self.rental_used:
                end = min(end, self.rental_used[invoice_id] + timedelta(hours=WINDOW_HOURS))
            if paid <= now < end:
                return invoice_id
        return None

    def _rental_covers(self, fan: str, now: datetime) -> bool:
        return self._running_rental(fan, now) is not None

    def _periods_now(self, now: datetime) -> dict[str, list[MembershipPeriod]]:
        """Each fan's membership periods running at ``now``, in one query for every check."""
        running: dict[str, list[MembershipPeriod]] = {fan: [] for fan in self.fans}
        fan_of = {user.pk: fan for fan, user in self.fans.items()}
        periods = MembershipPeriod.objects.filter(
            membership__fan__in=self.fans.values(), starts_at__lte=now, ends_at__gt=now
        ).select_related("tier", "invoice", "membership")
        for period in periods:
            running[fan_of[period.membership.fan_id]].append(period)
        return running

    @staticmethod
    def _membership_covers(periods: list[MembershipPeriod], tier: Tier) -> bool:
        for period in periods:
            if not period.tier.covers(tier):
                continue
            if period.kind == MembershipPeriod.Kind.PAID:
                assert period.invoice is not None
                if period.invoice.state == State.SETTLED:
                    return True
            elif period.voided_at is None:
                return True
        return False

    # --- the properties ------------------------------------------------------------------

    @invariant()
    def access_exactly_when_a_live_paid_source_covers_now(self) -> None:
        now = self.clock.now()
        # The expected side read in two queries; each decision still reads what it reads.
        periods = self._periods_now(now)
        contents = Content.objects.in_bulk([content.pk for content in self.contents.values()])
        for fan, user in self.fans.items():
            for name, content in self.contents.items():
                current = contents[content.pk]
                if name == "rent":
                    covered = self._rental_covers(fan, now)
                else:
                    covered = self._membership_covers(periods[fan], self.tiers[name])
                expected = self.published[name] and covered
                decision = access.decide(user, current, now)
                assert decision.allowed == expected, (fan, name, decision, now)

    @invariant()
    def no_paid_period_is_lost_or_granted_twice(self) -> None:
        for membership in Membership.objects.all():
            paid = list(
                MembershipPeriod.objects.filter(
                    membership=membership, kind="paid", invoice__state=State.SETTLED
                ).order_by("starts_at")
            )
            for period in paid:
                assert period.starts_at is not None, period
                assert period.ends_at is not None, period
                assert period.ends_at == period_end(period.starts_at, membership.period)
                assert period.voided_at is None
            for earlier, later in itertools.pairwise(paid):
                assert earlier.ends_at is not None
                assert later.starts_at is not None
                assert earlier.ends_at <= later.starts_at, (earlier, later)


@pytest.mark.long
@pytest.mark.django_db
@override_settings(PAYMENTS_INSTANT_GRANT_UNITS={})  # access when confirmed, not at the first block
def test_memberships_and_rentals_keep_the_ledgers_property_under_random_sequences() -> None:
    run_state_machine_as_test(
        TimedAccessMachine,
        settings=state_machine_settings(15),
    )
