"""For the tip tests: creators with wallets of their own, tips, and paying them through the
real crediting path (a verified transfer handed to ``payments.crediting.record_transfer``)."""

from __future__ import annotations

import itertools

from accounts.models import User
from creators.models import Creator
from payments.chain.verification import ChainTransfer
from payments.crediting import record_transfer
from payments.money import Amount, Token
from support import services
from support.models import Tip
from tests.fixtures.personas import TRON_ADDRESS, make_user
from tests.payments.factories import CREATOR_ADDRESS, OTHER_ADDRESS, paying, proven, with_wallet

TIP = Amount.parse("150", Token.BTT)

# Names and messages meant to break a page, an overlay or a filter.
HOSTILE_NAMES = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "</style><style>*{display:none}",
    "\u200b\u200b\u200b",
    "a\u202etxt.exe",
]
HOSTILE_MESSAGES = [
    "<script>document.body.innerHTML='pwned'</script>",
    '<a href="javascript:alert(1)" onmouseover="alert(2)">click</a>',
    "<style>body{background:url(javascript:alert(1))}</style>{{ 7*7 }}",
    "x" * 200,
    "\u200b" * 500 + "hidden",
    "W" * 120 + "\u200d" * 50,
]


def tipping_creator(creator: Creator, address: str = CREATOR_ADDRESS) -> Creator:
    return with_wallet(creator, address)


def with_goal(creator: Creator, goal: str, minimum: str = "10", title: str = "New mic") -> None:
    """The creator's tip settings: alerts at processing, a goal of ``goal`` BTT."""
    services.update_tip_settings(
        creator.user,
        minimum=Amount.parse(minimum, Token.BTT),
        blocked="",
        alert_on="processing",
        goal_title=title,
        goal=Amount.parse(goal, Token.BTT),
    )


def other_creator(handle: str = "other") -> Creator:
    user = make_user(handle)
    return Creator.objects.create(
        user=user, handle=handle, display_name="Other", payout_address=TRON_ADDRESS
    )


def tip(
    fan: User, creator: Creator, amount: Amount = TIP, name: str = "", message: str = ""
) -> Tip:
    return services.create_tip(fan, creator, amount, name=name, message=message)


_transactions = itertools.count(1)


def pay(made: Tip) -> ChainTransfer:
    """The tip's exact amount arrives at the creator's address, in a block not yet solidified."""
    invoice = made.invoice
    transfer = proven(*paying(invoice, recipient=invoice.recipient, seq=next(_transactions)))
    record_transfer(transfer, solidified=False)
    return transfer


def solidify(transfer: ChainTransfer) -> None:
    record_transfer(transfer, solidified=True)


__all__ = ["OTHER_ADDRESS", "TIP", "other_creator", "pay", "solidify", "tip", "tipping_creator"]
