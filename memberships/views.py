"""Membership pages: join from a creator's page, the fan's Memberships page (pay now, cancel,
privacy), and the creator's tiers and members in the studio."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from btt_platform.errors import Refused
from creators.models import Creator
from memberships import members, notices, services
from memberships.forms import TierForm
from memberships.models import Membership, Tier
from swarm.models import Content


def _origin(request: AuthenticatedHttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


@login_required
@require_POST
def join(request: AuthenticatedHttpRequest, tier_id: int) -> HttpResponse:
    tier = get_object_or_404(Tier.objects.select_related("creator"), pk=tier_id)
    period = request.POST.get("period", Membership.Period.MONTHLY)
    if period not in Membership.Period.values:
        period = Membership.Period.MONTHLY
    try:
        _, invoice = services.join(
            request.user, tier, period, listed=bool(request.POST.get("listed")),
            origin=_origin(request),
        )  # fmt: skip
    except Refused as refusal:
        messages.error(request, str(refusal))
        return redirect("creator", tier.creator.handle)
    return redirect("invoice", invoice.pk)


@login_required
def my_memberships(request: AuthenticatedHttpRequest) -> HttpResponse:
    rows = [
        (m, services.open_invoice(m), notices.upcoming_changes(m), _other_tiers(m), _grace_end(m))
        for m in Membership.objects.filter(fan=request.user).select_related(
            "tier__creator", "next_tier"
        )
    ]
    return render(request, "memberships/my_memberships.html", {"rows": rows})


def _grace_end(membership: Membership) -> datetime | None:
    if membership.state != Membership.State.GRACE or membership.paid_until is None:
        return None
    return membership.paid_until + services.renewal_grace()


def _other_tiers(membership: Membership) -> list[Tier]:
    """The tiers a running membership can change to: the creator's open tiers with a price for
    its period (the current one too, to undo a change)."""
    if membership.state not in (Membership.State.ACTIVE, Membership.State.GRACE):
        return []
    tiers = Tier.objects.filter(creator_id=membership.tier.creator_id, retired_at__isnull=True)
    return [t for t in tiers if t.price(membership.period) is not None]


def _mine(request: AuthenticatedHttpRequest, membership_id: int) -> Membership:
    return get_object_or_404(Membership, pk=membership_id, fan=request.user)


@login_required
@require_POST
def pay_now(request: AuthenticatedHttpRequest, membership_id: int) -> HttpResponse:
    try:
        invoice = services.pay_now(request.user, _mine(request, membership_id), _origin(request))
    except Refused as refusal:
        messages.error(request, str(refusal))
        return redirect("my-memberships")
    return redirect("invoice", invoice.pk)


@login_required
@require_POST
def change_tier(request: AuthenticatedHttpRequest, membership_id: int) -> HttpResponse:
    membership = _mine(request, membership_id)
    chosen = str(request.POST.get("tier", ""))
    tier = Tier.objects.filter(pk=int(chosen)).first() if chosen.isdigit() else None
    if tier is None:
        messages.error(request, "Choose a tier.")
        return redirect("my-memberships")
    try:
        services.change_tier(request.user, membership, tier)
    except Refused as refusal:
        messages.error(request, str(refusal))
    else:
        for note in notices.upcoming_changes(membership) or ["You keep your tier."]:
            messages.success(request, note)
    return redirect("my-memberships")


@login_required
def cancel(request: AuthenticatedHttpRequest, membership_id: int) -> HttpResponse:
    membership = _mine(request, membership_id)
    if request.method == "POST":
        services.cancel(request.user, membership)
        messages.success(request, f"Membership of {membership.tier.name} cancelled.")
        return redirect("my-memberships")
    return render(request, "memberships/cancel.html", {"membership": membership})


@login_required
@require_POST
def privacy(request: AuthenticatedHttpRequest, membership_id: int) -> HttpResponse:
    membership = _mine(request, membership_id)
    membership.listed = bool(request.POST.get("listed"))
    membership.save(update_fields=["listed"])
    return redirect("my-memberships")


def _creator(request: AuthenticatedHttpRequest) -> Creator:
    creator = Creator.objects.filter(user=request.user).first()
    if creator is None:
        raise Http404("You are not a creator.")
    return creator


@login_required
def studio_tiers(request: AuthenticatedHttpRequest, tier_id: int | None = None) -> HttpResponse:
    creator = _creator(request)
    tier = None if tier_id is None else get_object_or_404(Tier, pk=tier_id, creator=creator)
    form = TierForm(request.POST or None, tier=tier)
    if request.method == "POST" and form.is_valid():
        try:
            form.save(creator)
        except Refused as refusal:
            form.add_error(None, str(refusal))
        else:
            return redirect("studio-tiers")
    counts = members.counts_by_tier(creator)
    tiers = [(t, counts.get(t.pk, 0)) for t in creator.tiers.all()]
    context = {
        "form": form,
        "editing": tier,
        "tiers": tiers,
        "members": members.member_rows(creator),
        "recurring": list(members.monthly_recurring(creator).values()),
    }
    return render(request, "memberships/studio_tiers.html", context)


@login_required
@require_POST
def retire(request: AuthenticatedHttpRequest, tier_id: int) -> HttpResponse:
    services.retire_tier(get_object_or_404(Tier, pk=tier_id, creator=_creator(request)))
    return redirect("studio-tiers")


@login_required
def members_csv(request: AuthenticatedHttpRequest) -> HttpResponse:
    response = HttpResponse(members.members_csv(_creator(request)), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="members.csv"'
    return response


@login_required
@require_POST
def studio_content_members(request: AuthenticatedHttpRequest, content_id: int) -> HttpResponse:
    """Mark a content for members of a tier or higher ("" for members no more). Only access is
    granted or taken back here; takedowns and every other door still decide as before."""
    content = get_object_or_404(Content, pk=content_id, creator=_creator(request))
    chosen = str(request.POST.get("tier", ""))
    tier = None
    if chosen:
        if not chosen.isdigit():
            raise Http404("No such tier.")
        tier = get_object_or_404(Tier, pk=int(chosen))
    try:
        services.mark_for_members(request.user, content, tier)
    except Refused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(
            request,
            "Not for members." if tier is None else f"For members of {tier.name} or higher.",
        )
    return redirect("studio-content", content_id=content.pk)
