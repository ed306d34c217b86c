"""Rentals: a paid content's rent price and window, and each fan's rental of it; refund requests
of purchases that staff took down. (A sale's price
is ``payments.ContentPrice``; access itself is always the ledger's grants.)"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from btt_platform.tron import validate_tron_address
from payments.fields import BaseUnitsField
from payments.models import TOKEN_CHOICES
from payments.money import Amount, Token

# Sane bounds for a window: an hour to a month of use, and a rental must start within a month.
MIN_WINDOW_HOURS = 1
MAX_WINDOW_HOURS = 30 * 24
MIN_START_DAYS = 1
MAX_START_DAYS = 30


class RentalTerms(models.Model):
    """A paid content offered for rent: the rent price, and how long a rental lasts."""

    content = models.OneToOneField(
        "swarm.Content", on_delete=models.CASCADE, related_name="rental_terms"
    )
    token = models.CharField(max_length=8, choices=TOKEN_CHOICES, default=Token.BTT.value)
    units = BaseUnitsField()
    window_hours = models.PositiveIntegerField(
        default=48,
        validators=[MinValueValidator(MIN_WINDOW_HOURS), MaxValueValidator(MAX_WINDOW_HOURS)],
        help_text="hours of access from the first play or download",
    )
    start_within_days = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(MIN_START_DAYS), MaxValueValidator(MAX_START_DAYS)],
        help_text="days from payment after which the rental ends, started or not",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"rent {self.amount} for content {self.content_id}"

    @property
    def amount(self) -> Amount:
        return Amount(self.units, Token(self.token))


class Rental(models.Model):
    """One rental invoice's terms, fixed when it was made (a creator's later change applies to
    later rentals only), and when its window started."""

    invoice = models.OneToOneField(
        "payments.Invoice", on_delete=models.PROTECT, related_name="rental"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    content = models.ForeignKey("swarm.Content", on_delete=models.CASCADE, related_name="+")
    window_hours = models.PositiveIntegerField()
    start_within_days = models.PositiveIntegerField()
    paid_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="the first use")

    class Meta:
        indexes = [models.Index(fields=["user", "content"], name="rental_user_content")]

    def __str__(self) -> str:
        return f"rental {self.invoice_id}: {self.user_id} -> {self.content_id}"

    @property
    def window(self) -> timedelta:
        return timedelta(hours=self.window_hours)

    @property
    def start_within(self) -> timedelta:
        return timedelta(days=self.start_within_days)


class RefundRequest(models.Model):
    """A buyer of content that staff took down asks its creator for the money back.

    The platform never holds funds: the creator sends the refund from their own wallet and
    records the transaction; the platform proves it on chain (``purchases.refunds``) before the
    request turns ``refunded``. One request per purchase (its invoice), and one refund per
    transaction: a txid that refunded one purchase refunds no other.
    """

    class State(models.TextChoices):
        OPEN = "open", "Asked: waiting for the creator's transfer"
        REFUNDED = "refunded", "Refunded: the transfer is proven on chain"

    invoice = models.OneToOneField(
        "payments.Invoice", on_delete=models.PROTECT, related_name="refund_request"
    )
    fan = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refund_requests"
    )
    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.PROTECT, related_name="refund_requests"
    )
    content = models.ForeignKey(
        "swarm.Content", on_delete=models.PROTECT, related_name="refund_requests"
    )
    # What the fan paid (the invoice's credited amount when asked): the least a refund sends.
    token = models.CharField(max_length=8, choices=TOKEN_CHOICES)
    units = BaseUnitsField()
    # Where the refund goes: a wallet the fan verified, or the address the payment came from.
    address = models.CharField(max_length=34, validators=[validate_tron_address])
    address_verified = models.BooleanField(default=False)
    message = models.TextField(blank=True, max_length=1000)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    refunded_at = models.DateTimeField(null=True, blank=True)
    txid = models.CharField(max_length=64, unique=True, null=True, blank=True)
    refunded_units = BaseUnitsField(default=0, help_text="base units the transaction sent back")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(state="open") & models.Q(txid__isnull=True))
                | (models.Q(state="refunded") & models.Q(txid__isnull=False)),
                name="refund_txid_iff_refunded",
            )
        ]

    def __str__(self) -> str:
        return f"refund of {self.invoice_id} ({self.state})"

    @property
    def amount(self) -> Amount:
        return Amount(self.units, Token(self.token))

    @property
    def refunded(self) -> Amount:
        return Amount(self.refunded_units, Token(self.token))
