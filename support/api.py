"""Tips and campaigns in the JSON API. Amounts are strings (decimal ``value``, base ``units``).

A fan tips with ``POST /creators/{handle}/tips`` and pays the returned invoice like any other
(``GET /invoices/{id}``, ``/ws/invoice/<id>/``); a creator reads their tips at ``GET /tips``.
Campaigns: ``GET /campaigns/{id}``, ``POST /campaigns/{id}/pledges``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited
from ninja import Field, Router, Schema

from accounts.http import AuthenticatedHttpRequest
from creators.models import Creator
from payments.money import Amount, AmountError, AmountJson, Token
from support import campaigns, services
from support.backers import public_backers
from support.models import MESSAGE_MAX, NAME_MAX, Campaign, Pledge, Tip
from swarm.models import Content

router = Router(tags=["tips and campaigns"])


class Error(Schema):
    detail: str


class MoneyOut(Schema):
    value: str
    units: str
    token: str


class TipIn(Schema):
    amount: str = Field(description="decimal BTT, e.g. '250'", max_length=100)
    name: str = Field("", max_length=NAME_MAX * 4, description=f"shown; at most {NAME_MAX}")
    message: str = Field("", max_length=MESSAGE_MAX * 4, description=f"at most {MESSAGE_MAX}")
    content_id: int | None = None
    live: bool = Field(False, description="during the creator's live session")


class TipOut(Schema):
    id: uuid.UUID
    creator: str
    name: str
    message: str
    content_id: int | None
    live_session_id: int | None
    invoice_id: uuid.UUID
    state: str = Field(description="the invoice's state")
    amount: MoneyOut = Field(description="the tip as asked: what the creator's stream shows")
    amount_due: MoneyOut = Field(description="pay exactly this: the low digits name the invoice")
    amount_paid: MoneyOut
    pay_to: str
    created_at: datetime


class TierOut(Schema):
    id: int
    title: str
    description: str
    minimum: MoneyOut
    limit: int | None
    left: int | None


class CampaignOut(Schema):
    id: int
    creator: str
    title: str
    story: str
    mode: str
    state: str
    goal: MoneyOut
    raised: MoneyOut
    paid: MoneyOut
    backers: int
    listed_backers: list[str] = Field(
        description="the names backers chose to be listed by, each once; accounts never"
    )
    anonymous_backers: int = Field(description="pledges listed as Anonymous (the default)")
    deadline: datetime
    tiers: list[TierOut]
    websocket: str


class PledgeIn(Schema):
    amount: str = Field(max_length=100)
    tier_id: int | None = None
    name: str = Field(
        "",
        max_length=NAME_MAX * 4,
        description=f"the name to be listed by among the backers (at most {NAME_MAX}); "
        "empty: listed as Anonymous",
    )


class PledgeOut(Schema):
    id: int
    campaign_id: int
    state: str
    amount: MoneyOut
    tier_id: int | None
    invoice_id: uuid.UUID | None
    listed_as: str = Field(description="how the backers list shows this pledge")


def _money(amount: Amount) -> AmountJson:
    return amount.to_json()


def _tip_out(tip: Tip) -> dict[str, Any]:
    invoice = tip.invoice
    return {
        "id": tip.pk,
        "creator": tip.creator.handle,
        "name": tip.name,
        "message": tip.message,
        "content_id": tip.content_id,
        "live_session_id": tip.live_session_id,
        "invoice_id": invoice.pk,
        "state": invoice.state,
        "amount": _money(invoice.asked),
        "amount_due": _money(invoice.due),
        "amount_paid": _money(invoice.paid),
        "pay_to": invoice.recipient,
        "created_at": tip.created_at,
    }


def _pledge_out(pledge: Pledge) -> dict[str, Any]:
    return {
        "id": pledge.pk,
        "campaign_id": pledge.campaign_id,
        "state": pledge.state,
        "amount": _money(pledge.amount),
        "tier_id": pledge.tier_id,
        "invoice_id": pledge.invoice_id,
        "listed_as": pledge.listed_as,
    }


@router.post(
    "/creators/{handle}/tips",
    response={201: TipOut, 400: Error, 404: Error, 422: Error, 429: Error, 503: Error},
)
def create_tip(request: AuthenticatedHttpRequest, handle: str, payload: TipIn) -> tuple[int, Any]:
    """Tip a creator: 201 with the tip and its invoice to pay; 429 past ``TIP_RATE`` tips
    (counted with the tip form's)."""
    if is_ratelimited(
        request,
        group=services.TIPS_LIMIT_GROUP,
        key="user_or_ip",
        rate=settings.TIP_RATE,
        method="POST",
        increment=True,
    ):
        return 429, {"detail": "Too many tips in a short time; try again in a minute."}
    creator = Creator.objects.filter(handle=handle.lower(), user__is_active=True).first()
    if creator is None:
        return 404, {"detail": "No such creator."}
    try:
        amount = Amount.parse_entered(payload.amount, Token.BTT)
    except AmountError as error:
        return 422, {"detail": str(error)}
    content = None
    if payload.content_id is not None:
        content = Content.objects.published().filter(pk=payload.content_id).first()
        if content is None:
            return 404, {"detail": "No such content."}
    tip = services.create_tip(
        request.user,
        creator,
        amount,
        name=payload.name,
        message=payload.message,
        content=content,
        live_session=services.current_session(creator) if payload.live else None,
    )
    return 201, _tip_out(tip)


@router.get("/tips", response={200: list[TipOut], 404: Error})
def my_tips(request: AuthenticatedHttpRequest) -> tuple[int, Any]:
    """The creator's tips, newest first (at most 200)."""
    creator = Creator.objects.filter(user=request.user).first()
    if creator is None:
        return 404, {"detail": "You are not a creator."}
    return 200, [_tip_out(tip) for tip in services.tip_feed(creator)]


@router.get("/campaigns/{campaign_id}", response={200: CampaignOut, 404: Error}, auth=None)
def campaign_detail(request: HttpRequest, campaign_id: int) -> tuple[int, Any]:
    campaign = (
        Campaign.objects.select_related("creator")
        .filter(pk=campaign_id, creator__user__is_active=True)
        .first()
    )
    if campaign is None:
        return 404, {"detail": "No such campaign."}
    progress = campaigns.progress(campaign)
    listed = public_backers(campaign)
    return 200, {
        "id": campaign.pk,
        "creator": campaign.creator.handle,
        "title": campaign.title,
        "story": campaign.story,
        "mode": campaign.mode,
        "state": campaign.state,
        "goal": _money(campaign.goal),
        "raised": _money(progress.raised),
        "paid": _money(progress.paid),
        "backers": progress.backers,
        "listed_backers": listed.names,
        "anonymous_backers": listed.anonymous,
        "deadline": campaign.deadline,
        "tiers": [
            {
                "id": tier.pk,
                "title": tier.title,
                "description": tier.description,
                "minimum": _money(tier.minimum),
                "limit": tier.limit,
                "left": tier.left,
            }
            for tier in campaign.tiers.all()
        ],
        "websocket": f"/ws/campaign/{campaign.pk}/",
    }


@router.post(
    "/campaigns/{campaign_id}/pledges",
    response={201: PledgeOut, 400: Error, 404: Error, 409: Error, 422: Error, 503: Error},
)
def create_pledge(
    request: AuthenticatedHttpRequest, campaign_id: int, payload: PledgeIn
) -> tuple[int, Any]:
    """Back a campaign: flexible ones answer with the pledge's invoice to pay at once."""
    campaign = Campaign.objects.select_related("creator").filter(pk=campaign_id).first()
    if campaign is None:
        return 404, {"detail": "No such campaign."}
    try:
        amount = Amount.parse_entered(payload.amount, Token.BTT)
    except AmountError as error:
        return 422, {"detail": str(error)}
    tier = None
    if payload.tier_id is not None:
        tier = campaign.tiers.filter(pk=payload.tier_id).first()
        if tier is None:
            return 404, {"detail": "No such reward tier."}
    pledge = campaigns.pledge(request.user, campaign, amount, tier, public_name=payload.name)
    return 201, _pledge_out(pledge)
