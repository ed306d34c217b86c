"""Invoices and the payments proven on chain that settle them.

An invoice asks for an amount of a token at the creator's own address; the platform never holds
the money. Its state follows BTCPay Server's model (new -> processing -> settled; expired;
invalid) with the partial / over / late flags beside the state. ``payments.invoices.move_invoice``
is the only code that moves it, through one conditional UPDATE per transition, and every change
is written to the append-only ``InvoiceEvent`` log.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# AppendOnly is re-exported: what callers catch when a record is about to be changed.
from btt_platform.records import AppendOnly as AppendOnly
from btt_platform.records import AppendOnlyModel, AppendOnlyQuerySet
from btt_platform.tron import validate_tron_address
from payments.chain.verification import OWN_TRANSFER
from payments.fields import BaseUnitsField
from payments.money import Amount, Token

TOKEN_CHOICES = [(token.value, token.label) for token in Token]
TXID_LENGTH = 64


class ContentPrice(models.Model):
    """What a paid content costs. Kept beside the content rather than in it: prices are money
    (base units with their token), which is this app's business."""

    content = models.OneToOneField("swarm.Content", on_delete=models.CASCADE, related_name="price")
    token = models.CharField(max_length=8, choices=TOKEN_CHOICES, default=Token.BTT.value)
    units = BaseUnitsField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.amount} for content {self.content_id}"

    @property
    def amount(self) -> Amount:
        return Amount(self.units, Token(self.token))


class Invoice(models.Model):
    class Kind(models.TextChoices):
        PURCHASE = "purchase"
        TIP = "tip"
        PLEDGE = "pledge"
        MEMBERSHIP = "membership"
        RENTAL = "rental"

    class State(models.TextChoices):
        NEW = "new", "New: waiting for the payment"
        PROCESSING = "processing", "Processing: paid in a block, not yet solidified"
        SETTLED = "settled", "Settled: the payment is solidified"
        EXPIRED = "expired", "Expired: not paid in time"
        INVALID = "invalid", "Invalid: its payment failed or was dropped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    content = models.ForeignKey(
        "swarm.Content", on_delete=models.PROTECT, related_name="invoices", null=True, blank=True
    )
    # Money records outlive nothing they point to: users with invoices are deactivated, not
    # deleted (PROTECT).
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="invoices",
        null=True,
        blank=True,
        help_text="empty for an anonymous tip",
    )
    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.PROTECT, related_name="invoices"
    )
    # The creator's payout address when the invoice was made: changing it later must not
    # redirect a payment already asked for.
    recipient = models.CharField(max_length=34, validators=[validate_tron_address])
    token = models.CharField(max_length=8, choices=TOKEN_CHOICES)
    # The price or tip as the fan or creator set it. ``amount_due`` adds the unique-amount tag
    # (``payments.pricing.unique_amount``), which only the payment instruction may show.
    amount_asked = BaseUnitsField(default=0, help_text="base units asked, without the tag")
    amount_due = BaseUnitsField(help_text="base units, unique among open invoices on the address")
    amount_paid = BaseUnitsField(default=0, help_text="base units credited, late ones included")
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    partial = models.BooleanField(default=False, help_text="paid something, less than due")
    over = models.BooleanField(default=False, help_text="paid more than due")
    late = models.BooleanField(default=False, help_text="a payment arrived after expiry")
    # For wallets that can set one (raw_data.data); many cannot, so it is one way to match.
    memo = models.CharField(max_length=16, unique=True)
    payer_address = models.CharField(max_length=34, blank=True, help_text="first payment's sender")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)
    # When it left new/processing for good or for now (settled, invalid, expired): its unique
    # amount stays reserved for the late window after this, so a repeated payment of that
    # amount can never pay someone else's invoice.
    closed_at = models.DateTimeField(null=True, blank=True)
    # A keyed hash of the client address that asked for it (never the address itself), for the
    # per-address cap on unpaid invoices; empty when the platform made it (a pledge's deadline).
    origin = models.CharField(max_length=32, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "expires_at"]),
            models.Index(fields=["recipient", "amount_due"], name="invoice_recipient_amount"),
        ]
        constraints = [
            # Phone wallets pay without telling us which invoice: the amount says it, so no
            # two open invoices on one address may ask for the same amount of the same token.
            models.UniqueConstraint(
                fields=["recipient", "token", "amount_due"],
                condition=Q(state="new"),
                name="invoice_open_amount_unique",
            ),
            # Buying and renting are for a content; nothing else is.
            models.CheckConstraint(
                condition=Q(kind__in=["purchase", "rental"], content__isnull=False)
                | (~Q(kind__in=["purchase", "rental"]) & Q(content__isnull=True)),
                name="invoice_content_iff_for_content",
            ),
            models.CheckConstraint(
                condition=Q(kind="tip") | Q(payer__isnull=False), name="invoice_payer_unless_tip"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.state}, {self.due})"

    @property
    def due(self) -> Amount:
        return Amount(self.amount_due, Token(self.token))

    @property
    def paid(self) -> Amount:
        return Amount(self.amount_paid, Token(self.token))

    @property
    def asked(self) -> Amount:
        """The price or tip as asked, without the unique-amount tag: what every page, feed,
        alert, total and email shows. Only the payment instruction shows ``due``, the exact
        amount a phone wallet must send. (0 is a row made by hand, not by
        ``payments.invoices.create_invoice``; it shows what is due.)"""
        return Amount(self.amount_asked or self.amount_due, Token(self.token))

    @property
    def is_open(self) -> bool:
        return self.state == self.State.NEW

    def txids(self) -> list[str]:
        """The transactions credited to this invoice (and not dropped), in the order seen."""
        credited = self.payments.filter(dropped_at__isnull=True).order_by("created_at", "pk")
        return list(credited.values_list("txid", flat=True))


class Payment(models.Model):
    """One on-chain transfer credited to an invoice. (txid, log index) is unique, so a transfer
    credits at most one invoice, ever, however many watchers or claims see it."""

    class MatchedBy(models.TextChoices):
        CLAIM = "claim", "the payer's page sent the txid"
        MEMO = "memo"
        AMOUNT = "amount", "the invoice's unique amount"
        STAFF = "staff", "attached by staff from the unmatched transfers"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    txid = models.CharField(max_length=TXID_LENGTH)
    log_index = models.IntegerField(
        help_text=f"index in the receipt's log; {OWN_TRANSFER}: TRX or TRC-10"
    )
    token = models.CharField(max_length=8, choices=TOKEN_CHOICES)
    units = BaseUnitsField()
    sender = models.CharField(max_length=34)
    recipient = models.CharField(max_length=34)
    block_number = models.BigIntegerField()
    block_time = models.DateTimeField()
    matched_by = models.CharField(max_length=8, choices=MatchedBy.choices)
    late = models.BooleanField(default=False, help_text="in a block after the invoice expired")
    created_at = models.DateTimeField(default=timezone.now)
    solidified_at = models.DateTimeField(null=True, blank=True)
    # The transaction left the chain before its block was solidified; it credits nothing.
    dropped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["txid", "log_index"], name="payment_transfer_unique")
        ]

    def __str__(self) -> str:
        return f"{self.amount} in {self.txid}#{self.log_index}"

    @property
    def amount(self) -> Amount:
        return Amount(self.units, Token(self.token))

    @property
    def counts(self) -> bool:
        return self.dropped_at is None


class TxClaim(models.Model):
    """A txid the paying page (or the payer) says pays an invoice, with proof that the claimant
    controls the sending address: ``signer`` is the address that signed the claim message
    (empty: the claimant relies on wallets verified in their settings). A claim credits a
    transfer only if that transfer was sent from a proven address; a claim refused or still
    pending blocks nobody else's claim of the same txid."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be seen in a block"
        VERIFIED = "verified"
        REFUSED = "refused"

    txid = models.CharField(max_length=TXID_LENGTH, db_index=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="claims")
    signer = models.CharField(max_length=34, blank=True, help_text="proven sending address")
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tx_claims"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    detail = models.CharField(max_length=300, blank=True, help_text="why it was refused")
    created_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["txid", "invoice"], name="txclaim_once_per_invoice")
        ]

    def __str__(self) -> str:
        return f"{self.txid} for {self.invoice_id} ({self.state})"


class InvoiceEvent(AppendOnlyModel):
    """What happened to an invoice: who, what, when, which transaction. Append-only."""

    class Kind(models.TextChoices):
        CREATED = "created"
        STATE = "state", "state changed"
        PAYMENT = "payment", "a transfer was credited"
        SOLIDIFIED = "solidified", "a credited transfer was solidified"
        DROPPED = "dropped", "a credited transfer left the chain"
        CLAIMED = "claimed", "a txid was claimed for it"
        CLAIM_REFUSED = "claim_refused", "a claimed txid does not pay it"
        REVIEWED = "reviewed", "staff resolved its late, partial or over payment"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    from_state = models.CharField(max_length=10, blank=True)
    to_state = models.CharField(max_length=10, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text="empty: the platform (watcher, expiry)",
    )
    txid = models.CharField(max_length=TXID_LENGTH, blank=True)
    log_index = models.IntegerField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text="amounts as strings")
    created_at = models.DateTimeField(default=timezone.now)

    objects = AppendOnlyQuerySet["InvoiceEvent"].as_manager()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.kind} {self.from_state}->{self.to_state}".rstrip("->")


class WebhookEvent(models.TextChoices):
    """What a creator's webhook can be told (``payments.webhooks`` signs and sends them)."""

    INVOICE_CREATED = "invoice.created"
    INVOICE_PROCESSING = "invoice.processing"
    INVOICE_SETTLED = "invoice.settled"
    INVOICE_EXPIRED = "invoice.expired"
    INVOICE_INVALID = "invoice.invalid"
    MEMBERSHIP_STARTED = "membership.started"
    MEMBERSHIP_RENEWED = "membership.renewed"
    MEMBERSHIP_RENEWAL_DUE = "membership.renewal_due"
    MEMBERSHIP_LAPSED = "membership.lapsed"
    MEMBERSHIP_CANCELLED = "membership.cancelled"
    POST_PUBLISHED = "post.published"


def every_webhook_event() -> list[str]:
    return [event.value for event in WebhookEvent]


class Webhook(models.Model):
    """A creator's HTTPS endpoint for invoice events. The secret signs every delivery; it is
    kept in the clear because signing needs it, and shown to the creator only when made."""

    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=64)
    events = models.JSONField(default=every_webhook_event, help_text="WebhookEvent values")
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    # Circuit breaker: failed attempts in a row; past PAYMENTS_WEBHOOK_BREAKER_FAILURES the
    # endpoint is paused (no calls) until the creator resumes it or a trial after the cool-down
    # succeeds.
    consecutive_failures = models.PositiveIntegerField(default=0)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)
    # One attempt in flight per endpoint: the worker sending holds this lease (a conditional
    # UPDATE); another may call the endpoint once it has run out (the first one died).
    busy_until = models.DateTimeField(null=True, blank=True)
    # The sweep queued a task for this endpoint that has not started yet: no second one until.
    queued_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.url} of creator {self.creator_id}"


class WebhookDelivery(models.Model):
    """One event for one webhook, tried until the endpoint answers 2xx or the attempts run out.
    The delivery id stays the same across retries, so a receiver can drop repeats."""

    PING = "ping"

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed", "Failed: every attempt was refused or unanswered"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(max_length=32, help_text="a WebhookEvent, or ping")
    invoice_event = models.ForeignKey(
        InvoiceEvent, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    payload = models.JSONField(help_text="the body sent, amounts as strings")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # While an attempt is in flight this is its lease: another worker may take the delivery
    # over only once the lease has run out (the first one died mid-attempt).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["webhook", "state", "next_attempt_at"]),
        ]
        constraints = [
            # However often an invoice event is handed over, each webhook hears it once.
            models.UniqueConstraint(
                fields=["webhook", "invoice_event"],
                condition=Q(invoice_event__isnull=False),
                name="webhook_delivery_once_per_event",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id} ({self.state}, {self.attempts} attempts)"


class ChainCursor(models.Model):
    """How far the chain watcher has read one network's blocks.

    One row per ``TRON_NETWORK``. A watcher locks it while it applies a block and moves it in the
    same database transaction as that block's credits, so two watchers never apply one block
    twice, and a crash leaves either both or neither.
    """

    network = models.CharField(max_length=16, unique=True)
    head_block = models.BigIntegerField(help_text="the last block scanned")
    # The next block's parentHash must name this one; otherwise the node's chain changed under
    # the blocks scanned (a fork switch) and the watcher rescans from solid_block.
    head_block_id = models.CharField(max_length=64, blank=True)
    solid_block = models.BigIntegerField(
        default=-1, help_text="the node's solidified head when last asked: never rolls back"
    )
    # What the node called solid_block when it was solidified ("" when not known): a rewind
    # goes back to it only if the node still calls it that, and the block after it is checked
    # to follow it, so a node on another chain is never followed from the floor either.
    solid_block_id = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.network} at block {self.head_block} (solid {self.solid_block})"


class UnmatchedTransfer(models.Model):
    """A proven transfer to a watched creator address that paid no invoice: a wrong amount, no
    invoice at all, or an invoice long expired. Finance staff attach it to the invoice it was
    meant for (it is then credited like any payment) or resolve it with a note. The creator's
    money is in the creator's wallet either way; this is bookkeeping, not custody."""

    class State(models.TextChoices):
        OPEN = "open"
        ATTACHED = "attached", "Attached to an invoice"
        RESOLVED = "resolved", "Resolved with a note"
        DROPPED = "dropped", "Dropped: it left the chain before its block was solidified"

    txid = models.CharField(max_length=TXID_LENGTH)
    log_index = models.IntegerField()
    token = models.CharField(max_length=8, choices=TOKEN_CHOICES)
    units = BaseUnitsField()
    sender = models.CharField(max_length=34)
    recipient = models.CharField(max_length=34)
    memo = models.CharField(max_length=64, blank=True)
    block_number = models.BigIntegerField()
    block_time = models.DateTimeField()
    solidified_at = models.DateTimeField(null=True, blank=True)
    dropped_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    note = models.TextField(blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-seen_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["txid", "log_index"], name="unmatched_transfer_unique")
        ]

    def __str__(self) -> str:
        return f"{self.amount} to {self.recipient} in {self.txid}#{self.log_index}"

    @property
    def amount(self) -> Amount:
        return Amount(self.units, Token(self.token))
