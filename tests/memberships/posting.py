"""Helpers for the post tests: a creator's two tiers, members paid through the real invoice
state machine, and API clients holding a personal token."""

from __future__ import annotations

from django.test import Client

from accounts.models import User
from accounts.services import issue_token
from creators.models import Creator
from memberships import services
from memberships.models import Membership, Tier
from payments.money import Amount, Token
from tests.fixtures.memberships import settle
from tests.payments.factories import with_wallet


def tiers(creator: Creator) -> tuple[Tier, Tier]:
    """(Supporter rank 1, Patron rank 2)."""
    with_wallet(creator)
    low = services.save_tier(
        creator, name="Supporter", monthly=Amount.parse("10", Token.BTT), rank=1
    )
    high = services.save_tier(creator, name="Patron", monthly=Amount.parse("30", Token.BTT), rank=2)
    return low, high


def member(fan: User, tier: Tier) -> Membership:
    membership, invoice = services.join(fan, tier)
    settle(invoice)
    membership.refresh_from_db()
    return membership


def api(user: User | None) -> Client:
    if user is None:
        return Client()
    return Client(headers={"Authorization": f"Bearer {issue_token(user, 'script').secret}"})
