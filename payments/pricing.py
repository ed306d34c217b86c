"""What an invoice may ask for: the accepted tokens, price checks, and the unique amount.

An invoice asks for its price plus a small tag that makes the amount unique on the creator's
address, so that a payment of exactly that amount names its invoice with no memo. A tag stays
taken until the late window after its invoice closes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from payments.errors import NoUniqueAmount, PaymentRefused, TokenNotAccepted
from payments.models import Invoice
from payments.money import (
    BTT_TRC20_MAINNET_CONTRACT,
    BTT_TRC20_NILE_CONTRACT,
    Amount,
    Token,
)

State = Invoice.State

# The unique-amount tag sits in the sixth decimal (1e-6 of a token, 1e12 base units of BTT):
# low enough to cost nothing (1 BTT is a tiny fraction of a cent), high enough that a person
# can still type the amount into a phone wallet.
TAG_DECIMALS = 6
MAX_TAG = 999_999
# Tokens whose amounts a person reads the same way ("7.000001 BTT"): one tag space per address.
TAG_FAMILY = (Token.BTT, Token.BTTOLD)


# --- configuration (btt_platform/settings.py) ------------------------------------------------


def late_window() -> timedelta:
    """``INVOICE_LATE_WINDOW_SECONDS`` (default a day): how long after expiry a payment of an
    expired invoice's unique amount is still recognised (and recorded as late), and so how long
    that amount is not handed to another invoice."""
    return timedelta(seconds=settings.INVOICE_LATE_WINDOW_SECONDS)


def trc10_enabled() -> bool:
    """``PAYMENTS_TRC10_ENABLED`` (default off): accept TRC-10 BTT (BTTOLD) as well."""
    return bool(settings.PAYMENTS_TRC10_ENABLED)


def instant_grant_limit(token: Token) -> int:
    """``PAYMENTS_INSTANT_GRANT_UNITS`` ({token: base units}, default none): purchases up to
    this amount grant access at the first confirmation instead of at solidification."""
    limits: Mapping[str, int] = settings.PAYMENTS_INSTANT_GRANT_UNITS
    return int(limits.get(token.value, 0))


def btt_contract() -> str:
    """The TRC-20 BTT contract on ``TRON_NETWORK`` (``TRON_BTT_CONTRACT`` overrides it)."""
    configured: str = settings.TRON_BTT_CONTRACT
    if configured:
        return configured
    return (
        BTT_TRC20_NILE_CONTRACT if settings.TRON_NETWORK == "nile" else BTT_TRC20_MAINNET_CONTRACT
    )


def accepted_tokens() -> list[Token]:
    return [Token.BTT, Token.BTTOLD] if trc10_enabled() else [Token.BTT]


# --- prices and unique amounts ----------------------------------------------------------------


def check_price(amount: Amount) -> None:
    """Refuse an amount no invoice may ask for: a token not accepted, nothing, or so much that
    the amount with its tag would pass the token's total supply (no wallet could ever pay it).
    Raises TokenNotAccepted and PaymentRefused."""
    if amount.token not in accepted_tokens():
        raise TokenNotAccepted(f"{amount.token.value} is not accepted here.")
    if amount.units <= 0:
        raise PaymentRefused("An amount to pay is more than zero.")
    if amount.units + MAX_TAG * _tag_step(amount.token) > amount.token.total_supply_units:
        supply = Amount(amount.token.total_supply_units, amount.token)
        raise PaymentRefused(f"That is more than all the {amount.token.value} there is ({supply}).")


def _tag_step(token: Token) -> int:
    step: int = 10 ** max(token.decimals - TAG_DECIMALS, 0)
    return step


def holding_tag(now: datetime) -> Q:
    """Invoices whose unique amount is still theirs: open or being proven, or closed (settled,
    invalid, expired) less than the late window ago. A payment repeated within that window (a
    double tap, a wallet's "send again") then finds no other fan's invoice at that amount."""
    return Q(state__in=[State.NEW, State.PROCESSING]) | Q(closed_at__gte=now - late_window())


def unique_amount(recipient: str, price: Amount, now: datetime) -> int:
    """``price`` plus the lowest free tag on ``recipient``. BTT and BTTOLD share one tag space:
    an amount shown as 7.000001 belongs to one invoice on the address, whatever the token.
    Raises NoUniqueAmount."""
    step = _tag_step(price.token)
    top = price.units + MAX_TAG * step
    holding = Invoice.objects.filter(holding_tag(now), recipient=recipient)
    taken: set[int] = set()  # amounts held, in ``price.token``'s base units
    for token in TAG_FAMILY if price.token in TAG_FAMILY else (price.token,):
        scale = 10**token.decimals
        low = price.units * scale // 10**price.token.decimals
        high = top * scale // 10**price.token.decimals
        for units in holding.filter(
            token=token.value, amount_due__gte=low, amount_due__lte=high
        ).values_list("amount_due", flat=True):
            # The same decimal number in this token's units (exact when it has one).
            same, rest = divmod(units * 10**price.token.decimals, scale)
            if rest == 0:
                taken.add(same)
    # Tags start at 1: someone who pays the listed price without an invoice must not be taken
    # for whoever happens to hold an untagged invoice.
    for tag in range(1, MAX_TAG + 1):
        candidate = price.units + tag * step
        if candidate not in taken:
            return candidate
    raise NoUniqueAmount("Every amount near this price is taken by an open invoice.")
