"""Reconciliation: a transfer that paid no invoice is kept for finance staff, who attach it to
the invoice it was meant for (credited once, even when two of them click at once) or resolve it
with a note; invoices paid late, short or over are listed until reviewed. All audited."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from accounts.models import User
from creators.models import Creator
from ledger import access
from payments import crediting, reconciliation
from payments.models import Invoice, InvoiceEvent, Payment, TxClaim, UnmatchedTransfer
from payments.money import Token
from staff.models import AuditEntry
from tests.payments.factories import OTHER_ADDRESS, paying, proven, purchase

TAG = 10**12  # one step of the unique-amount tag (1e-6 BTT)


def over_payment(invoice: Invoice, extra: int = 5 * 10**17) -> Any:
    """A transfer of more than the invoice asks (0.5 BTT on top): its amount matches nothing."""
    return proven(*paying(invoice, invoice.amount_due + extra))


def finance_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def money_state(invoice: Invoice) -> tuple[str, int, int, int]:
    """State, amount paid, payments, and how many times it turned settled."""
    invoice.refresh_from_db()
    settled = InvoiceEvent.objects.filter(
        invoice=invoice, kind=InvoiceEvent.Kind.STATE, to_state=Invoice.State.SETTLED
    ).count()
    return invoice.state, invoice.amount_paid, invoice.payments.count(), settled


@pytest.mark.django_db
def test_a_transfer_that_pays_no_invoice_is_kept_once_and_marked_solidified(
    fan: User, creator: Creator
) -> None:
    # given
    invoice = purchase(fan, creator)
    transfer = over_payment(invoice)
    # when: seen in its block, seen again, then solidified
    first = crediting.record_transfer(transfer, solidified=False)
    again = crediting.record_transfer(transfer, solidified=False)
    solid = crediting.record_transfer(transfer, solidified=True)
    # then: credited nowhere, kept once, with what the chain said
    assert (first, again, solid) == (None, None, None)
    kept = UnmatchedTransfer.objects.get()
    assert (kept.txid, kept.log_index, kept.amount, kept.recipient, kept.state) == (
        transfer.txid,
        transfer.log_index,
        transfer.amount,
        invoice.recipient,
        UnmatchedTransfer.State.OPEN,
    )
    assert kept.solidified_at is not None
    assert money_state(invoice) == (Invoice.State.NEW, 0, 0, 0)
    assert list(reconciliation.open_transfers()) == [kept]


@pytest.mark.django_db
def test_finance_attaches_a_solidified_transfer_and_the_invoice_settles_once(
    finance: User, fan: User, creator: Creator
) -> None:
    # given
    invoice = purchase(fan, creator)
    transfer = over_payment(invoice)
    crediting.record_transfer(transfer, solidified=True)
    kept = UnmatchedTransfer.objects.get()
    client = finance_client(finance)
    listed = client.get("/staff/reconciliation/").content.decode()
    # when
    response = client.post(
        f"/staff/reconciliation/transfers/{kept.pk}/attach",
        {"invoice": str(invoice.pk), "note": "payer rounded up"},
    )
    again = client.post(
        f"/staff/reconciliation/transfers/{kept.pk}/attach", {"invoice": str(invoice.pk)}
    )
    # then
    assert f'data-transfer-id="{kept.pk}"' in listed
    assert str(invoice.pk) in listed  # offered as a candidate
    assert response.status_code == 302
    assert again.status_code == 409
    assert b"already attached or resolved" in again.content
    paid = invoice.amount_due + 5 * 10**17
    assert money_state(invoice) == (Invoice.State.SETTLED, paid, 1, 1)
    assert invoice.over
    payment = Payment.objects.get()
    assert (payment.matched_by, payment.solidified_at is not None) == (
        Payment.MatchedBy.STAFF,
        True,
    )
    kept.refresh_from_db()
    assert (kept.state, kept.invoice_id, kept.handled_by, kept.note) == (
        UnmatchedTransfer.State.ATTACHED,
        invoice.pk,
        finance,
        "payer rounded up",
    )
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.target_id, entry.detail) == (
        finance,
        AuditEntry.Action.ATTACH,
        str(kept.pk),
        {"invoice": str(invoice.pk), "amount": str(transfer.amount.decimal_string())},
    )
    # the fan got what was paid for
    assert invoice.content is not None
    assert access.may_fetch(fan, invoice.content)
    assert (
        f'data-transfer-id="{kept.pk}"' not in client.get("/staff/reconciliation/").content.decode()
    )


@pytest.mark.django_db(transaction=True)
def test_two_staff_attaching_at_once_settle_the_invoice_exactly_once(
    finance: User, superuser: User, fan: User, creator: Creator
) -> None:
    # given
    invoice = purchase(fan, creator)
    crediting.record_transfer(over_payment(invoice), solidified=True)
    kept = UnmatchedTransfer.objects.get()
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def attach(user: User) -> None:
        try:
            start.wait(timeout=10)
            reconciliation.attach_transfer(user, kept.pk, str(invoice.pk))
            outcomes.append("attached")
        except reconciliation.ReconciliationRefused as exc:
            outcomes.append(f"refused: {exc}")
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=attach, args=(user,)) for user in (finance, superuser)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then
    assert sorted(outcomes) == [
        "attached",
        "refused: This transfer was already attached or resolved.",
    ]
    assert money_state(invoice) == (
        Invoice.State.SETTLED,
        invoice.amount_due + 5 * 10**17,
        1,
        1,
    )
    assert AuditEntry.objects.filter(action=AuditEntry.Action.ATTACH).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"invoice": "not-a-uuid"}, 400, b"invoice: Enter a valid UUID."),
        ({"invoice": "00000000-0000-0000-0000-000000000000"}, 409, b"No such invoice."),
        ({"invoice": "OTHER"}, 409, b"another address or in another token"),
        ({"invoice": "SETTLED"}, 409, b"A settled invoice takes no more payments."),
        ({"invoice": "OWN", "note": "x" * 1001}, 400, b"at most 1000 characters"),
    ],
)
def test_a_refused_attach_says_why_and_changes_nothing(
    finance: User,
    fan: User,
    creator: Creator,
    data: dict[str, str],
    status: int,
    message: bytes,
) -> None:
    # given: an unmatched transfer to the creator, an invoice on another address, a settled one
    invoice = purchase(fan, creator)
    crediting.record_transfer(over_payment(invoice), solidified=True)
    kept = UnmatchedTransfer.objects.get()
    other = Invoice.objects.create(
        kind=Invoice.Kind.TIP,
        creator=creator,
        recipient=OTHER_ADDRESS,
        token=Token.BTT.value,
        amount_due=invoice.amount_due,
        memo="OTHERMEMO",
        expires_at=invoice.expires_at,
    )
    done = purchase(fan, creator, title="Done")
    crediting.record_transfer(proven(*paying(done, seq=1)), solidified=True)
    names = {"OTHER": str(other.pk), "SETTLED": str(done.pk), "OWN": str(invoice.pk)}
    data = {key: names.get(value, value) for key, value in data.items()}
    before = (money_state(invoice), money_state(other), money_state(done))
    # when
    response = finance_client(finance).post(
        f"/staff/reconciliation/transfers/{kept.pk}/attach", data
    )
    # then
    assert response.status_code == status
    assert message in response.content
    assert (money_state(invoice), money_state(other), money_state(done)) == before
    kept.refresh_from_db()
    assert (kept.state, kept.invoice_id) == (UnmatchedTransfer.State.OPEN, None)
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_resolving_a_transfer_needs_a_note_and_happens_once(
    finance: User, fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)
    crediting.record_transfer(over_payment(invoice), solidified=False)
    kept = UnmatchedTransfer.objects.get()
    client = finance_client(finance)
    url = f"/staff/reconciliation/transfers/{kept.pk}/resolve"

    blank = client.post(url, {"note": "  "})
    resolved = client.post(url, {"note": "a gift from a fan, no invoice"})
    twice = client.post(url, {"note": "again"})
    attach_after = client.post(
        f"/staff/reconciliation/transfers/{kept.pk}/attach", {"invoice": str(invoice.pk)}
    )

    assert (blank.status_code, resolved.status_code, twice.status_code) == (400, 302, 409)
    assert attach_after.status_code == 409
    kept.refresh_from_db()
    assert (kept.state, kept.note, kept.handled_by) == (
        UnmatchedTransfer.State.RESOLVED,
        "a gift from a fan, no invoice",
        finance,
    )
    assert money_state(invoice) == (Invoice.State.NEW, 0, 0, 0)
    assert list(AuditEntry.objects.values_list("action", "reason")) == [
        (AuditEntry.Action.RESOLVE_TRANSFER, "a gift from a fan, no invoice")
    ]


@pytest.mark.django_db
def test_a_partly_paid_invoice_is_listed_until_reviewed_and_again_after_a_new_payment(
    finance: User, fan: User, creator: Creator
) -> None:
    # given: the fan paid a part of the invoice (with its memo, so the transfer is matched)
    invoice = purchase(fan, creator)
    half = paying(invoice, invoice.amount_due // 2, memo=invoice.memo)
    crediting.record_transfer(proven(*half), solidified=False)
    client = finance_client(finance)
    row = f'data-invoice-id="{invoice.pk}"'
    # when
    listed = client.get("/staff/reconciliation/").content.decode()
    resolved = client.post(
        f"/staff/reconciliation/invoices/{invoice.pk}/resolve",
        {"note": "creator asked the fan for the rest"},
    )
    after_review = client.get("/staff/reconciliation/").content.decode()
    crediting.record_transfer(
        proven(*paying(invoice, invoice.amount_due // 4, memo=invoice.memo, seq=2)),
        solidified=False,
    )
    after_more = client.get("/staff/reconciliation/").content.decode()
    nothing_to_do = client.post(
        f"/staff/reconciliation/invoices/{purchase(fan, creator, 'Other').pk}/resolve",
        {"note": "x"},
    )
    # then
    assert row in listed
    assert resolved.status_code == 302
    assert row not in after_review
    assert row in after_more
    assert nothing_to_do.status_code == 409
    review = InvoiceEvent.objects.get(kind=InvoiceEvent.Kind.REVIEWED)
    assert (review.invoice_id, review.actor, review.detail["note"]) == (
        invoice.pk,
        finance,
        "creator asked the fan for the rest",
    )
    assert AuditEntry.objects.get().action == AuditEntry.Action.RESOLVE_INVOICE


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/staff/reconciliation/transfers/99999999999999999999999/attach",
        "/staff/reconciliation/transfers/99999999999999999999999/resolve",
        "/staff/reconciliation/invoices/99999999999999999999999/resolve",
        "/staff/reconciliation/invoices/%00%27%22/resolve",
    ],
)
def test_ids_that_name_nothing_are_refused_without_an_error(finance: User, url: str) -> None:
    response = finance_client(finance).post(
        url, {"invoice": "00000000-0000-0000-0000-000000000000", "note": "x"}
    )

    assert response.status_code in (404, 409)
    assert b"No such" in response.content
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_a_kept_transfer_credited_later_by_a_claim_is_marked_attached_to_that_invoice(
    fan: User, creator: Creator
) -> None:
    # given: a transfer that matched nothing, kept for finance
    invoice = purchase(fan, creator)
    transfer = over_payment(invoice)
    assert crediting.record_transfer(transfer, solidified=False) is None

    # when: the payer's page claims its txid for the invoice, and the claim is proven
    claim = TxClaim.objects.create(
        txid=transfer.txid, invoice=invoice, claimed_by=fan, signer=transfer.sender
    )
    payment = crediting.record_transfer(transfer, solidified=False, claim=claim)

    # then: credited to that invoice, and the kept row says so instead of staying open
    assert payment is not None
    assert payment.matched_by == Payment.MatchedBy.CLAIM
    kept = UnmatchedTransfer.objects.get()
    assert (kept.state, kept.invoice_id) == (UnmatchedTransfer.State.ATTACHED, invoice.pk)
    assert kept.note == "credited when matched by its claim"
    assert not reconciliation.open_transfers().exists()


@pytest.mark.django_db
def test_a_claim_without_proof_of_the_sender_never_takes_a_kept_transfer(
    fan: User, creator: Creator
) -> None:
    # given: a stranger's stray transfer to the creator, kept for finance
    invoice = purchase(fan, creator)
    transfer = over_payment(invoice)
    assert crediting.record_transfer(transfer, solidified=False) is None

    # when: the fan claims it, proving a wallet that is not its sender
    claim = TxClaim.objects.create(
        txid=transfer.txid, invoice=invoice, claimed_by=fan, signer=OTHER_ADDRESS
    )
    payment = crediting.record_transfer(transfer, solidified=False, claim=claim)

    # then: it stays on finance's list, and the invoice has nothing
    assert payment is None
    assert UnmatchedTransfer.objects.get().state == UnmatchedTransfer.State.OPEN
    assert not Payment.objects.exists()
