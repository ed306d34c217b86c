"""What a creator's studio shows: sales, tips and pledges, earnings by day, swarm totals.

Amounts are summed in Python as ``payments.money.Amount``: base units are exact integers, and
SQLite keeps them as 78-digit strings that SQL cannot add (``payments.fields``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import F, Prefetch, QuerySet, Sum
from django.utils import timezone

from creators.models import Creator
from payments.models import Invoice, Payment
from payments.money import Amount, Token
from swarm.models import Content
from swarm.peer_sharing import saving_for

EARNINGS_DAYS = 30


@dataclass
class KindTotals:
    """Settled invoices of one kind: how many, and how much of each token."""

    count: int = 0
    amounts: dict[Token, Amount] = field(default_factory=dict)

    def add(self, amount: Amount) -> None:
        self.count += 1
        self.amounts[amount.token] = (
            self.amounts.get(amount.token, Amount.zero(amount.token)) + amount
        )

    def sorted_amounts(self) -> list[Amount]:
        return [self.amounts[token] for token in Token if token in self.amounts]


@dataclass
class SwarmTotals:
    peers: int
    seeds: int
    upload_rate: int
    engine_bytes: int
    webseed_bytes: int
    seeding: int
    # Bytes fans' browsers say they got from other peers instead (self-reported).
    peer_bytes: int = 0
    saved_percent: int | None = None


def settled(creator: Creator, kind: Invoice.Kind | None = None) -> QuerySet[Invoice]:
    invoices = Invoice.objects.filter(creator=creator, state=Invoice.State.SETTLED)
    return invoices if kind is None else invoices.filter(kind=kind)


def sales(creator: Creator) -> QuerySet[Invoice]:
    """Settled purchases, newest first, with what the sales list and its CSV show."""
    return (
        settled(creator, Invoice.Kind.PURCHASE)
        .select_related("content", "payer")
        .prefetch_related(
            Prefetch(
                "payments",
                queryset=Payment.objects.filter(dropped_at__isnull=True).order_by(
                    "created_at", "pk"
                ),
                to_attr="counted_payments",
            )
        )
        .order_by("-settled_at", "-created_at")
    )


def late_to_review(creator: Creator) -> QuerySet[Invoice]:
    """Invoices paid in full only after they expired: the creator accepts them (or refunds).
    A tip or pledge is shown by the name its payer chose (``tip``, ``pledge``), never by the
    account behind it; only a purchase names its buyer."""
    return (
        Invoice.objects.filter(
            creator=creator,
            state=Invoice.State.EXPIRED,
            late=True,
            amount_paid__gte=F("amount_due"),
        )
        .select_related("content", "payer", "tip", "pledge")
        .order_by("-expires_at")
    )


def txids(invoice: Invoice) -> list[str]:
    """The invoice's credited transactions, from ``sales()``'s prefetch (one query in all)."""
    payments: list[Payment] | None = getattr(invoice, "counted_payments", None)
    return invoice.txids() if payments is None else [payment.txid for payment in payments]


def totals_by_kind(creator: Creator) -> dict[str, KindTotals]:
    """Settled invoices by kind, summed as asked (``Invoice.asked``): a summary shows prices
    and tips, not the unique-amount tags (nor over-payments) of the exact amounts that paid
    them, which the sales table's CSV keeps."""
    totals = {kind.value: KindTotals() for kind in Invoice.Kind}
    for invoice in settled(creator).only("kind", "token", "amount_asked", "amount_due"):
        totals[invoice.kind].add(invoice.asked)
    return totals


def earnings_by_day(
    creator: Creator, days: int = EARNINGS_DAYS
) -> tuple[list[date], dict[Token, list[Amount]]]:
    """Every day of the last ``days`` (today included, in the site's time zone) and, for each
    token earned in them, the amount settled on each day (as asked, like ``totals_by_kind``)."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    daily: dict[Token, dict[date, Amount]] = defaultdict(dict)
    rows = (
        settled(creator)
        .filter(settled_at__gte=start)
        .only("settled_at", "token", "amount_asked", "amount_due")
    )
    for invoice in rows.iterator():
        asked = invoice.asked
        assert invoice.settled_at is not None  # settled
        day = timezone.localdate(invoice.settled_at)
        daily[asked.token][day] = daily[asked.token].get(day, Amount.zero(asked.token)) + asked
    dates = [first + timedelta(days=i) for i in range(days)]
    series = {
        token: [daily[token].get(day, Amount.zero(token)) for day in dates]
        for token in Token
        if token in daily
    }
    return dates, series


def swarm_totals(creator: Creator) -> SwarmTotals:
    contents = Content.objects.filter(creator=creator).published()
    sums = contents.aggregate(
        peers=Sum("peers"), seeds=Sum("seeds"), rate=Sum("upload_rate"), bytes=Sum("bytes_uploaded")
    )
    ids = list(contents.values_list("pk", flat=True))
    saving = saving_for(ids)
    return SwarmTotals(
        peers=sums["peers"] or 0,
        seeds=sums["seeds"] or 0,
        upload_rate=sums["rate"] or 0,
        engine_bytes=sums["bytes"] or 0,
        webseed_bytes=saving.webseed_bytes,
        seeding=len(ids),
        peer_bytes=saving.peer_bytes,
        saved_percent=saving.saved_percent,
    )


CSV_HEADER = (
    "settled_at", "invoice_id", "content_id", "content_title", "buyer", "token",
    "amount_paid", "amount_paid_base_units", "amount_due", "payer_address", "txids",
)  # fmt: skip


def _cell(text: str) -> str:
    # A spreadsheet runs a cell that starts with one of these as a formula (CSV injection);
    # titles and user names are other people's text.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def sales_csv_rows(invoices: Iterable[Invoice]) -> Iterator[tuple[str, ...]]:
    """One row per sale; amounts as exact decimal strings (and base units), never floats."""
    yield CSV_HEADER
    for invoice in invoices:
        yield (
            invoice.settled_at.isoformat() if invoice.settled_at else "",
            str(invoice.pk),
            str(invoice.content_id or ""),
            _cell(invoice.content.title if invoice.content else ""),
            _cell(invoice.payer.username if invoice.payer else ""),
            invoice.token,
            invoice.paid.decimal_string(),
            str(invoice.amount_paid),
            invoice.due.decimal_string(),
            invoice.payer_address,
            " ".join(txids(invoice)),
        )
