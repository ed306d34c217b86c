"""Memberships in the JSON API: a creator's tiers (read by anyone, managed by the creator),
joining (the first period's invoice), a fan's memberships, pay-now and cancel, and a creator's
members (anonymous unless the fan chose to be listed)."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from accounts.http import AuthenticatedHttpRequest
from creators.models import Creator
from memberships import members, notices, services
from memberships.models import Membership, Tier
from payments.api import Error, InvoiceOut, MoneyOut, invoice_out
from payments.errors import NotFound, PaymentRefused
from payments.money import Amount, AmountError

router = Router(tags=["memberships"])


class TierIn(Schema):
    name: str = Field(max_length=80, min_length=1)
    description: str = Field("", max_length=5000)
    monthly: str = Field(description="decimal string", max_length=100)
    yearly: str | None = Field(None, description="decimal string; empty: monthly only")
    token: Literal["BTT", "BTTOLD"] = Field("BTT", description="BTTOLD: TRC-10, if enabled")
    member_limit: int | None = Field(None, ge=1)
    rank: int = Field(1, ge=1, le=100)


class TierOut(Schema):
    id: int
    name: str
    description: str
    monthly: MoneyOut
    yearly: MoneyOut | None
    member_limit: int | None
    rank: int
    retired: bool


class JoinIn(Schema):
    period: Literal["monthly", "yearly"] = "monthly"
    listed: bool = Field(False, description="list me by name in the creator's members")


class MembershipOut(Schema):
    id: int
    creator: str
    tier: TierOut
    period: str
    state: str
    paid_until: str | None = Field(description="ISO 8601; the next payment is due then")
    listed: bool
    open_invoice: str | None = Field(description="the invoice to pay now, if any")
    next_tier: TierOut | None = Field(
        description="the tier chosen for the next period (null: the same tier)"
    )
    upcoming: list[str] = Field(
        description="what changes at the next renewal (tier, price), in words for the fan"
    )


class ChangeTierIn(Schema):
    tier_id: int = Field(description="another open tier of the same creator; its own to undo")


class MemberOut(Schema):
    tier: str
    member: str
    state: str
    period: str
    paid_until: str


def tier_out(tier: Tier) -> dict[str, Any]:
    yearly = tier.price(Membership.Period.YEARLY)
    return {
        "id": tier.pk,
        "name": tier.name,
        "description": tier.description,
        "monthly": tier.price(Membership.Period.MONTHLY).to_json(),  # type: ignore[union-attr]
        "yearly": None if yearly is None else yearly.to_json(),
        "member_limit": tier.member_limit,
        "rank": tier.rank,
        "retired": tier.retired_at is not None,
    }


def membership_out(membership: Membership) -> dict[str, Any]:
    invoice = services.open_invoice(membership)
    return {
        "id": membership.pk,
        "creator": membership.tier.creator.handle,
        "tier": tier_out(membership.tier),
        "period": membership.period,
        "state": membership.state,
        "paid_until": membership.paid_until.isoformat() if membership.paid_until else None,
        "listed": membership.listed,
        "open_invoice": None if invoice is None else str(invoice.pk),
        "next_tier": None if membership.next_tier is None else tier_out(membership.next_tier),
        "upcoming": notices.upcoming_changes(membership),
    }


def _own_creator(request: AuthenticatedHttpRequest) -> Creator | None:
    return Creator.objects.filter(user=request.user).first()


def _save(request: AuthenticatedHttpRequest, payload: TierIn, tier: Tier | None) -> Tier:
    creator = _own_creator(request)
    if creator is None:
        raise NotFound("You are not a creator.")
    try:
        monthly = Amount.parse_entered(payload.monthly, payload.token)
        yearly = Amount.parse_entered(payload.yearly, payload.token) if payload.yearly else None
    except AmountError as error:
        raise PaymentRefused(str(error)) from error
    return services.save_tier(
        creator,
        name=payload.name,
        description=payload.description,
        monthly=monthly,
        yearly=yearly,
        member_limit=payload.member_limit,
        rank=payload.rank,
        tier=tier,
    )


@router.get("/creators/{handle}/tiers", response={200: list[TierOut], 404: Error}, auth=None)
def creator_tiers(request: HttpRequest, handle: str) -> tuple[int, Any]:
    """A creator's open tiers, lowest rank first."""
    creator = Creator.objects.filter(handle=handle, user__is_active=True).first()
    if creator is None:
        return 404, {"detail": "No such creator."}
    return 200, [tier_out(t) for t in creator.tiers.filter(retired_at__isnull=True)]


@router.post("/tiers/{tier_id}/join", response={201: InvoiceOut, 404: Error, 409: Error})
def join_tier(request: AuthenticatedHttpRequest, tier_id: int, payload: JoinIn) -> tuple[int, Any]:
    """Join a tier: the invoice for the first period (your open one if you have it)."""
    tier = Tier.objects.select_related("creator").filter(pk=tier_id).first()
    if tier is None:
        return 404, {"detail": "No such tier."}
    origin = request.META.get("REMOTE_ADDR", "")
    _, invoice = services.join(
        request.user, tier, payload.period, listed=payload.listed, origin=origin
    )
    return 201, invoice_out(invoice)


@router.get("/memberships", response=list[MembershipOut])
def my_memberships(request: AuthenticatedHttpRequest) -> list[dict[str, Any]]:
    """Your memberships, newest first."""
    mine = Membership.objects.filter(fan=request.user).select_related("tier__creator")
    return [membership_out(m) for m in mine]


def _mine(request: AuthenticatedHttpRequest, membership_id: int) -> Membership:
    membership = Membership.objects.filter(pk=membership_id, fan=request.user).first()
    if membership is None:
        raise NotFound("No such membership.")
    return membership


@router.post("/memberships/{membership_id}/cancel", response={200: MembershipOut, 404: Error})
def cancel_membership(request: AuthenticatedHttpRequest, membership_id: int) -> tuple[int, Any]:
    """Cancel: access runs to the end of the paid period; nothing is renewed."""
    membership = services.cancel(request.user, _mine(request, membership_id))
    return 200, membership_out(membership)


@router.post(
    "/memberships/{membership_id}/tier", response={200: MembershipOut, 404: Error, 409: Error}
)
def change_membership_tier(
    request: AuthenticatedHttpRequest, membership_id: int, payload: ChangeTierIn
) -> tuple[int, Any]:
    """Change tier (up or down) from the next period: the next invoice is for the chosen tier
    at its price; nothing is prorated and the paid period keeps its tier. A renewal already
    issued keeps its tier and price, and the change applies to the period after it; choosing
    again replaces the choice. 409: the membership is not active or in grace (pay it or join
    again), the tier is another creator's, retired, full, or has no price for the period; 404:
    no such membership or tier."""
    membership = _mine(request, membership_id)
    tier = Tier.objects.filter(pk=payload.tier_id).first()
    if tier is None:
        raise NotFound("No such tier.")
    return 200, membership_out(services.change_tier(request.user, membership, tier))


@router.post("/memberships/{membership_id}/pay", response={200: InvoiceOut, 404: Error, 409: Error})
def pay_membership(request: AuthenticatedHttpRequest, membership_id: int) -> tuple[int, Any]:
    """The invoice to pay now: the open renewal, or a new period after a lapse."""
    origin = request.META.get("REMOTE_ADDR", "")
    invoice = services.pay_now(request.user, _mine(request, membership_id), origin)
    return 200, invoice_out(invoice)


@router.get("/studio/tiers", response={200: list[TierOut], 404: Error})
def studio_tiers(request: AuthenticatedHttpRequest) -> tuple[int, Any]:
    """Your tiers, retired ones included."""
    creator = _own_creator(request)
    if creator is None:
        return 404, {"detail": "You are not a creator."}
    return 200, [tier_out(t) for t in creator.tiers.all()]


@router.post("/studio/tiers", response={201: TierOut, 400: Error, 404: Error, 422: Error})
def create_tier(request: AuthenticatedHttpRequest, payload: TierIn) -> tuple[int, Any]:
    """A new tier; fans can join it at once."""
    return 201, tier_out(_save(request, payload, None))


def _own_tier(request: AuthenticatedHttpRequest, tier_id: int) -> Tier:
    tier = Tier.objects.filter(pk=tier_id, creator__user=request.user).first()
    if tier is None:
        raise NotFound("No such tier.")
    return tier


@router.put("/studio/tiers/{tier_id}", response={200: TierOut, 400: Error, 404: Error, 422: Error})
def update_tier(
    request: AuthenticatedHttpRequest, tier_id: int, payload: TierIn
) -> tuple[int, Any]:
    """Change a tier; a new price applies to invoices issued from now on."""
    return 200, tier_out(_save(request, payload, _own_tier(request, tier_id)))


@router.delete("/studio/tiers/{tier_id}", response={204: None, 404: Error})
def retire_tier(request: AuthenticatedHttpRequest, tier_id: int) -> tuple[int, Any]:
    """Retire a tier: no new members or renewals; members keep what they paid for."""
    services.retire_tier(_own_tier(request, tier_id))
    return 204, None


@router.get("/studio/members", response={200: list[MemberOut], 404: Error})
def studio_members(request: AuthenticatedHttpRequest) -> tuple[int, Any]:
    """Your running members; a fan who did not choose to be listed is an anonymous member."""
    creator = _own_creator(request)
    if creator is None:
        return 404, {"detail": "You are not a creator."}
    rows = members.member_rows(creator)
    return 200, [
        {"tier": r.tier, "member": r.fan, "state": r.state, "period": r.period,
         "paid_until": r.paid_until}
        for r in rows
    ]  # fmt: skip
