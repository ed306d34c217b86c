"""A campaign's public list of backers: each pledge shown only as its backer chose at pledge
time, by a display name of their own or as anonymous (the default). The account behind a pledge
is never shown, not on the campaign page, not in the API, not in the creator's studio."""

from __future__ import annotations

from dataclasses import dataclass

from payments.money import Amount
from support.campaigns import COUNTED
from support.models import Campaign, is_anonymous_name


@dataclass(frozen=True)
class Backers:
    """The public list of a campaign's backers: only what each backer chose to show."""

    names: list[str]  # the named pledges' names, each once, in order
    anonymous: int  # pledges listed as anonymous


def public_backers(campaign: Campaign, limit: int = 200) -> Backers:
    """Who backs ``campaign``, as they chose at pledge time: a pledge with a name is listed by
    it, the rest count as anonymous. Accounts are never named: two backers who chose one name
    are one entry, and one backer's named and anonymous pledges stay apart."""
    names: dict[str, None] = {}
    anonymous = 0
    counted = campaign.pledges.filter(state__in=COUNTED).order_by("public_name", "pk")
    for name in counted.values_list("public_name", flat=True):
        if is_anonymous_name(name):
            anonymous += 1
        elif len(names) < limit:
            names[name] = None
    return Backers(list(names), anonymous)


@dataclass(frozen=True)
class PledgeLine:
    """One pledge as its campaign's creator sees it in the studio: what the backer chose to
    show (their listed name or Anonymous), the amount pledged, its reward and its state."""

    listed_as: str
    amount: Amount
    reward: str
    state: str


def pledges_for_creator(campaign: Campaign, limit: int = 500) -> list[PledgeLine]:
    """The campaign's pledges, newest first, each as its backer chose to be listed: the
    creator learns no account behind a pledge that the public does not (the payment itself is
    in their wallet, from whatever address the backer paid with)."""
    found = campaign.pledges.select_related("tier").order_by("-created_at", "-pk")[:limit]
    return [
        PledgeLine(
            pledge.listed_as,
            pledge.amount,
            pledge.tier.title if pledge.tier else "",
            pledge.get_state_display(),
        )
        for pledge in found
    ]
