"""What a creator sees of their members: who holds a place in each tier, the monthly recurring
amount, and the members CSV. A fan who did not choose to be listed is an anonymous member."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from creators.models import Creator
from memberships.models import Membership, Tier
from memberships.services import RUNNING
from payments.money import Amount, Token

ANONYMOUS = "Anonymous member"


@dataclass(frozen=True)
class MemberRow:
    tier: str
    fan: str
    state: str
    period: str
    paid_until: str


def running_members(creator: Creator) -> list[Membership]:
    """Memberships holding a place in the creator's tiers, by tier rank."""
    return list(
        Membership.objects.filter(tier__creator=creator, state__in=RUNNING)
        .select_related("fan", "tier")
        .order_by("tier__rank", "tier__pk", "created_at", "pk")
    )


def member_rows(creator: Creator) -> list[MemberRow]:
    return [
        MemberRow(
            tier=m.tier.name,
            fan=m.fan.username if m.listed else ANONYMOUS,
            state=m.state,
            period=m.period,
            paid_until=m.paid_until.isoformat() if m.paid_until else "",
        )
        for m in running_members(creator)
    ]


def members_csv(creator: Creator) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["tier", "member", "state", "period", "paid_until"])
    for row in member_rows(creator):
        writer.writerow([row.tier, row.fan, row.state, row.period, row.paid_until])
    return out.getvalue()


def counts_by_tier(creator: Creator) -> dict[int, int]:
    counts: dict[int, int] = {}
    for membership in running_members(creator):
        counts[membership.tier_id] = counts.get(membership.tier_id, 0) + 1
    return counts


def monthly_recurring(creator: Creator) -> dict[Token, Amount]:
    """Per token, what active members pay per month (a yearly price counts a twelfth)."""
    total: dict[Token, Amount] = {}
    active = [m for m in running_members(creator) if m.state != Membership.State.CANCELLED]
    for membership in active:
        tier: Tier = membership.next_tier or membership.tier
        price = tier.price(membership.period)
        if price is None:
            continue
        units = price.units if membership.period == Membership.Period.MONTHLY else price.units // 12
        token = Token(tier.token)
        total[token] = total.get(token, Amount(0, token)) + Amount(units, token)
    return total
