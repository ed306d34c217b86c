"""Crowdfunding: campaigns, reward tiers with limited quantities, pledges, and closing a
campaign at its deadline.

A pledge's life: flexible campaigns invoice at once (``invoiced`` -> ``paid``, or ``lapsed``
when the invoice expires or fails); all-or-nothing campaigns take a commitment
(``committed``), and at the deadline either invoice every backer (goal met: ``invoiced`` ->
``paid`` / ``lapsed``) or let every pledge lapse. Nobody pays but with their own signature. A
pledge moves only through ``_move_pledge``'s conditional UPDATE; a tier's slot is taken by a
conditional UPDATE (``taken < limit``), so concurrent pledges never sell past the limit; the
deadline job is safe to run twice and from several workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.mail import queue_email
from accounts.models import User
from accounts.notifications import notify_user
from btt_platform.broadcast import broadcast
from btt_platform.errors import Refused
from creators.models import Creator
from payments.invoices import create_invoice
from payments.models import Invoice
from payments.money import Amount, Token
from support.models import (
    NAME_MAX,
    TITLE_MAX,
    Campaign,
    CampaignUpdate,
    Pledge,
    PledgeEvent,
    RewardTier,
    TipSettings,
    is_anonymous_name,
)
from support.text import TextRefused, clean, mask

MAX_TIERS = 20
MIN_DURATION = timedelta(minutes=5)
MAX_DURATION = timedelta(days=90)
PLEDGE_PAYMENT_TIME = timedelta(days=3)
COUNTED = (Pledge.State.COMMITTED, Pledge.State.INVOICED, Pledge.State.PAID)

PLEDGE_TRANSITIONS: dict[str, frozenset[str]] = {
    Pledge.State.COMMITTED: frozenset({Pledge.State.INVOICED, Pledge.State.LAPSED}),
    Pledge.State.INVOICED: frozenset({Pledge.State.PAID, Pledge.State.LAPSED}),
    # A payment that arrives after its invoice expired (and is accepted) still counts.
    Pledge.State.LAPSED: frozenset({Pledge.State.PAID}),
    # A payment that leaves the chain (a reorganisation dropped its block) unpays the pledge;
    # ``pledge_invoice_moved`` lapses it when its invoice turns invalid.
    Pledge.State.PAID: frozenset({Pledge.State.LAPSED}),
}


class CampaignRefused(Refused):
    """A request about campaigns the platform turns down (400 unless a subclass says otherwise)."""


class NotFound(CampaignRefused):
    status = 404


class SoldOut(CampaignRefused):
    status = 409


@dataclass(frozen=True)
class TierSpec:
    title: str
    minimum: Amount
    limit: int | None = None
    description: str = ""


def _text(value: str, limit: int, what: str) -> str:
    try:
        cleaned = clean(value, limit, what)
    except TextRefused as error:
        raise CampaignRefused(str(error)) from None
    if not cleaned:
        raise CampaignRefused(f"A campaign needs a {what}.")
    return cleaned


def create_campaign(
    user: User,
    *,
    title: str,
    story: str,
    goal: Amount,
    deadline: datetime,
    mode: str,
    tiers: list[TierSpec],
) -> Campaign:
    """Raises NotFound (not a creator), CampaignRefused (bad title, goal, deadline, tiers)."""
    creator = Creator.objects.filter(user=user).first()
    if creator is None:
        raise NotFound("You are not a creator.")
    if mode not in Campaign.Mode.values:
        raise CampaignRefused("A campaign is flexible or all-or-nothing.")
    if goal.token != Token.BTT or goal.units <= 0:
        raise CampaignRefused("A goal is more than zero BTT.")
    now = timezone.now()
    if not now + MIN_DURATION <= deadline <= now + MAX_DURATION:
        raise CampaignRefused("The deadline is between 5 minutes and 90 days from now.")
    if len(tiers) > MAX_TIERS:
        raise CampaignRefused(f"At most {MAX_TIERS} reward tiers.")
    for tier in tiers:
        if tier.minimum.token != goal.token or tier.minimum.units <= 0:
            raise CampaignRefused("A reward tier's minimum is more than zero BTT.")
        if tier.limit is not None and tier.limit < 1:
            raise CampaignRefused("A limited tier has at least one reward.")
    story_text = story.strip()[:20_000]
    if not story_text:
        raise CampaignRefused("A campaign needs a story.")
    with transaction.atomic():
        campaign = Campaign.objects.create(
            creator=creator,
            title=_text(title, TITLE_MAX, "title"),
            story=story_text,
            token=goal.token.value,
            goal_units=goal.units,
            deadline=deadline,
            mode=mode,
        )
        for tier in tiers:
            RewardTier.objects.create(
                campaign=campaign,
                title=_text(tier.title, TITLE_MAX, "tier title"),
                description=tier.description.strip()[:1000],
                minimum_units=tier.minimum.units,
                limit=tier.limit,
            )
    return campaign


def open_campaigns(creator: Creator) -> QuerySet[Campaign]:
    return Campaign.objects.filter(creator=creator, state=Campaign.State.OPEN).order_by("deadline")


def post_update(user: User, campaign_id: int, title: str, body: str) -> CampaignUpdate:
    campaign = Campaign.objects.filter(pk=campaign_id, creator__user=user).first()
    if campaign is None:
        raise NotFound("No such campaign of yours.")
    if not body.strip():
        raise CampaignRefused("An update says something.")
    return CampaignUpdate.objects.create(
        campaign=campaign, title=_text(title, TITLE_MAX, "title"), body=body.strip()[:10_000]
    )


# --- pledges --------------------------------------------------------------------------------


def _take_slot(tier_id: int) -> bool:
    taken = RewardTier.objects.filter(pk=tier_id).filter(
        Q(limit__isnull=True) | Q(taken__lt=F("limit"))
    )
    return taken.update(taken=F("taken") + 1) == 1


def _release_slot(tier_id: int | None) -> None:
    if tier_id is not None:
        RewardTier.objects.filter(pk=tier_id, taken__gt=0).update(taken=F("taken") - 1)


def _move_pledge(pledge: Pledge, new: str, reason: str, **fields: Any) -> bool:
    """One conditional UPDATE from the state this object holds, and its event in the pledge's
    log; False if another process moved it first (nothing changed, nothing logged)."""
    old = pledge.state
    if new not in PLEDGE_TRANSITIONS[old]:
        raise ValueError(f"{old} -> {new} is not a transition of a pledge")
    with transaction.atomic():
        if Pledge.objects.filter(pk=pledge.pk, state=old).update(state=new, **fields) != 1:
            return False
        pledge.state = new
        for name, value in fields.items():
            setattr(pledge, name, value)
        PledgeEvent.objects.create(
            pledge=pledge, from_state=old, to_state=new, invoice=pledge.invoice, reason=reason
        )
    return True


def backer_name(campaign: Campaign, name: str) -> str:
    """The name a backer asked to be listed by, cleaned like a tip's name and masked by the
    creator's word filter; "" (anonymous) for no name or one that reads "Anonymous". Raises
    CampaignRefused (too long)."""
    try:
        cleaned = clean(name, NAME_MAX, "name")
    except TextRefused as error:
        raise CampaignRefused(str(error)) from None
    if is_anonymous_name(cleaned):
        return ""
    words = TipSettings.objects.filter(creator_id=campaign.creator_id).values_list(
        "blocked_words", flat=True
    )
    return mask(cleaned, (words.first() or "").splitlines())


def pledge(
    backer: User,
    campaign: Campaign,
    amount: Amount,
    tier: RewardTier | None,
    *,
    public_name: str = "",
) -> Pledge:
    """Back ``campaign`` with ``amount`` (for ``tier``'s reward, if given), listed publicly as
    ``public_name`` or, when it is empty (the default), as anonymous.

    Flexible: the pledge's invoice is made at once. All-or-nothing: a commitment, invoiced at
    the deadline if the goal is met. Raises NotFound, CampaignRefused (closed, own campaign,
    below the tier's minimum, a name too long), SoldOut (the tier's rewards are all taken),
    and what ``payments.invoices.create_invoice`` raises.
    """
    listed = backer_name(campaign, public_name)
    if campaign.creator.user_id == backer.pk:
        raise CampaignRefused("You cannot back your own campaign.")
    if amount.token != Token(campaign.token) or amount.units <= 0:
        raise CampaignRefused(f"A pledge is more than zero {campaign.token}.")
    if tier is not None:
        if tier.campaign_id != campaign.pk:
            raise NotFound("No such reward tier.")
        if amount < tier.minimum:
            raise CampaignRefused(f"This reward needs at least {tier.minimum}.")
    with transaction.atomic():
        # The campaign's row lock orders this pledge against the deadline job: a commitment
        # made while it counts is counted, one made after it closed is refused.
        current = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if current.state != Campaign.State.OPEN or current.deadline <= timezone.now():
            raise CampaignRefused("This campaign is closed.")
        if tier is not None and not _take_slot(tier.pk):
            raise SoldOut(f"“{tier.title}” is sold out.")
        flexible = campaign.mode == Campaign.Mode.FLEXIBLE
        invoice = (
            create_invoice(
                kind=Invoice.Kind.PLEDGE, creator=campaign.creator, amount=amount, payer=backer
            )
            if flexible
            else None
        )
        made = Pledge.objects.create(
            campaign=campaign,
            backer=backer,
            tier=tier,
            units=amount.units,
            state=Pledge.State.INVOICED if flexible else Pledge.State.COMMITTED,
            invoice=invoice,
            public_name=listed,
        )
        PledgeEvent.objects.create(
            pledge=made,
            to_state=made.state,
            actor=backer,
            invoice=invoice,
            reason="pledged" if flexible else "committed, to be invoiced if the goal is met",
        )
        send_progress(campaign)
    return made


def pledge_invoice_moved(invoice: Invoice, new_state: str) -> None:
    """From the outcome's transaction (through ``support.services.invoice_moved``): a
    pledge's invoice in a block counts it as paid; expired or failed, it lapses and gives its
    reward back."""
    found = Pledge.objects.select_for_update().filter(invoice=invoice).first()
    if found is None:
        return
    if new_state == Invoice.State.PROCESSING and found.state != Pledge.State.PAID:
        was_lapsed = found.state == Pledge.State.LAPSED
        fields: dict[str, Any] = {}
        reason = "its payment is in a block"
        if was_lapsed and found.tier_id is not None and not _take_slot(found.tier_id):
            fields["tier"] = None  # paid late, after its reward went to someone else
            reason = "paid after its invoice expired; its reward had gone to another backer"
        _move_pledge(found, Pledge.State.PAID, reason, **fields)
    elif new_state in (Invoice.State.EXPIRED, Invoice.State.INVALID):
        why = (
            "its invoice expired unpaid"
            if new_state == Invoice.State.EXPIRED
            else ("its payment failed or left the chain")
        )
        if found.state in (Pledge.State.INVOICED, Pledge.State.PAID) and _move_pledge(
            found, Pledge.State.LAPSED, why
        ):
            _release_slot(found.tier_id)
    else:
        return
    send_progress(found.campaign)


# --- progress -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    # Pledges count as pledged (``Pledge.units``, the amount asked), never as the tagged
    # amount an invoice asks the wallet for, nor any over-payment: the bar is public.
    raised: Amount  # flexible: paid; all-or-nothing: committed, invoiced and paid
    paid: Amount
    backers: int


def progress(campaign: Campaign) -> Progress:
    """What the progress bar shows: a flexible pledge counts once paid, an all-or-nothing one
    from its commitment until it lapses."""
    token = Token(campaign.token)
    counted = (Pledge.State.PAID,) if campaign.mode == Campaign.Mode.FLEXIBLE else COUNTED
    raised = paid = Amount.zero(token)
    backers = set()
    for units, state, backer in campaign.pledges.filter(state__in=counted).values_list(
        "units", "state", "backer_id"
    ):
        raised += Amount(units, token)
        backers.add(backer)
        if state == Pledge.State.PAID:
            paid += Amount(units, token)
    return Progress(raised, paid, len(backers))


class ProgressPayload(TypedDict):
    type: Literal["progress"]
    state: str
    token: str
    goal: str
    raised: str
    paid: str
    backers: int


def campaign_group(campaign_id: int) -> str:
    return f"campaign.{campaign_id}"


def progress_payload(campaign: Campaign) -> ProgressPayload:
    now = progress(campaign)
    return {
        "type": "progress",
        "state": campaign.state,
        "token": campaign.token,
        "goal": campaign.goal.decimal_string(),
        "raised": now.raised.decimal_string(),
        "paid": now.paid.decimal_string(),
        "backers": now.backers,
    }


def send_progress(campaign: Campaign) -> None:
    broadcast(campaign_group(campaign.pk), progress_payload(campaign))


# --- the deadline ---------------------------------------------------------------------------


def close_campaign(campaign_id: int, now: datetime | None = None) -> Campaign:
    """Close a campaign past its deadline, once: flexible ones end (succeeded if the paid total
    met the goal); all-or-nothing ones succeed if the commitments meet the goal, else fail and
    every pledge lapses. Then invoices the backers of a succeeded all-or-nothing campaign.
    Safe to run twice, and after a crash between the two steps."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.state == Campaign.State.OPEN and campaign.deadline <= now:
            totals = progress(campaign)
            met = totals.raised >= campaign.goal
            if campaign.mode == Campaign.Mode.FLEXIBLE:
                new = Campaign.State.SUCCEEDED if met else Campaign.State.ENDED
            else:
                new = Campaign.State.SUCCEEDED if met else Campaign.State.FAILED
            changed = Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.OPEN).update(
                state=new, closed_at=now
            )
            if changed:
                campaign.state, campaign.closed_at = new, now
                if new == Campaign.State.FAILED:
                    lapsing = list(
                        campaign.pledges.filter(state=Pledge.State.COMMITTED).values_list(
                            "pk", flat=True
                        )
                    )
                    Pledge.objects.filter(pk__in=lapsing).update(state=Pledge.State.LAPSED)
                    for lapsed in Pledge.objects.filter(pk__in=lapsing).select_related(
                        "backer", "tier", "campaign__creator"
                    ):
                        _tell_backer(lapsed, "lapsed")
                    PledgeEvent.objects.bulk_create(
                        PledgeEvent(
                            pledge_id=pledge_id,
                            from_state=Pledge.State.COMMITTED,
                            to_state=Pledge.State.LAPSED,
                            reason="the goal was not met by the deadline",
                        )
                        for pledge_id in lapsing
                    )
                send_progress(campaign)
    if campaign.state == Campaign.State.SUCCEEDED and campaign.mode == Campaign.Mode.ALL_OR_NOTHING:
        issue_pledge_invoices(campaign)
    return campaign


def _tell_backer(pledge: Pledge, outcome: Literal["invoiced", "lapsed"]) -> None:
    """Email the backer (by the worker, after commit) and tell their notifications socket: an
    invoice to pay from their own wallet, or the pledge lapsed with nothing owed."""
    campaign = pledge.campaign
    url = settings.SITE_URL + reverse("pledge", args=[pledge.pk])
    notify_user(pledge.backer_id, f"pledge_{outcome}", pledge=pledge.pk, campaign=campaign.title)
    email = pledge.backer.email
    if not email:
        return
    context = {
        "campaign": campaign,
        "creator": campaign.creator,
        "pledge": pledge,
        "invoice": pledge.invoice,
        "url": url,
    }
    body = render_to_string(f"support/email/pledge_{outcome}.txt", context)
    subject = (
        f"Your pledge to “{campaign.title}” is due"
        if outcome == "invoiced"
        else f"“{campaign.title}” did not reach its goal"
    )
    queue_email(subject, body.strip() + "\n", [email])


def issue_pledge_invoices(campaign: Campaign) -> int:
    """An invoice for each committed pledge of a succeeded all-or-nothing campaign; how many
    were made now. A pledge is locked and checked first, so it gets one invoice, ever."""
    made = 0
    for pledge_id in campaign.pledges.filter(state=Pledge.State.COMMITTED).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            found = (
                Pledge.objects.select_for_update()
                .filter(pk=pledge_id, state=Pledge.State.COMMITTED)
                .select_related("backer")
                .first()
            )
            if found is None:
                continue  # invoiced by another run meanwhile
            invoice = create_invoice(
                kind=Invoice.Kind.PLEDGE,
                creator=campaign.creator,
                amount=found.amount,
                payer=found.backer,
                # Backers learn of it after the deadline, not while on the page: days, not
                # the minutes a checkout gets.
                lifetime=PLEDGE_PAYMENT_TIME,
            )
            if _move_pledge(
                found, Pledge.State.INVOICED, "the goal was met by the deadline", invoice=invoice
            ):
                made += 1
                _tell_backer(found, "invoiced")
    return made


def close_due_campaigns(now: datetime | None = None) -> int:
    """Close every open campaign past its deadline, and finish invoicing any succeeded
    all-or-nothing campaign a previous run left half done; how many were closed."""
    now = now or timezone.now()
    closed = 0
    due = Campaign.objects.filter(state=Campaign.State.OPEN, deadline__lte=now)
    for campaign_id in due.values_list("pk", flat=True):
        if close_campaign(campaign_id, now).closed_at == now:
            closed += 1
    unfinished = Campaign.objects.filter(
        state=Campaign.State.SUCCEEDED,
        mode=Campaign.Mode.ALL_OR_NOTHING,
        pledges__state=Pledge.State.COMMITTED,
    ).distinct()
    for campaign in unfinished:
        issue_pledge_invoices(campaign)
    return closed
