"""What the public sees of a live session's tips: the total and the top tippers.

Shown on the live page after a session and in the creator's studio; the figures are the tips as
asked (``payments.models.Invoice.asked``, which alerts carry), never the tagged amounts paid.
"""

from __future__ import annotations

from dataclasses import dataclass

from payments.money import Amount, Token
from support.models import ANONYMOUS, Alert, LiveSession, TipSettings, is_anonymous_name


@dataclass(frozen=True)
class TopTipper:
    name: str
    total: Amount
    count: int
    anonymous: bool = False


@dataclass(frozen=True)
class SessionSummary:
    total: Amount  # the tips as asked (``Invoice.asked``), never the tagged amounts paid
    count: int
    top: list[TopTipper]


TOP_TIPPERS = 5


def session_summary(session: LiveSession, settings: TipSettings) -> SessionSummary:
    """Tips alerted while the session was live, and the top tippers.

    The list is public, so it groups by what the public saw, never by account: named tips by
    the name shown (two fans who chose one name are one row, as they looked on stream), and
    every anonymous tip in one "Anonymous" row. A fan's anonymous tips never add to their
    named row, and their named tips never to the anonymous one."""
    token = Token(settings.token)
    alerts = Alert.objects.filter(
        creator_id=session.creator_id,
        test=False,
        tip__isnull=False,
        token=token.value,
        created_at__gte=session.started_at,
        withdrawn_at__isnull=True,
    )
    if session.ended_at is not None:
        alerts = alerts.filter(created_at__lte=session.ended_at)
    total = Amount.zero(token)
    count = 0
    groups: dict[str | None, tuple[Amount, int]] = {}  # None: the anonymous row
    for shown, units, tip_name in alerts.order_by("seq").values_list("name", "units", "tip__name"):
        amount = Amount(units, token)
        total += amount
        count += 1
        # The tip's own name decides (the alert's copy of it was masked and may differ);
        # anonymous-looking names count as anonymous, however they were stored.
        key = None if is_anonymous_name(tip_name) or is_anonymous_name(shown) else shown
        so_far, n = groups.get(key, (Amount.zero(token), 0))
        groups[key] = (so_far + amount, n + 1)
    top = [
        TopTipper(ANONYMOUS if key is None else key, sum_, n, anonymous=key is None)
        for key, (sum_, n) in groups.items()
    ]
    top.sort(key=lambda row: (-row.total.units, row.anonymous, row.name))
    return SessionSummary(total, count, top[:TOP_TIPPERS])
