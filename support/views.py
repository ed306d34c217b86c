"""Pages for tips: the tip form and its payment page, the live page, the OBS overlay, and the
studio's tips and live pages. Thin: parse, authorise, call ``support.services``, render."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest, authenticated
from btt_platform.errors import Refused
from creators.access import creator_required
from creators.models import Creator
from support import campaigns, services
from support.backers import pledges_for_creator, public_backers
from support.forms import (
    CampaignForm,
    CampaignUpdateForm,
    LiveForm,
    PledgeForm,
    TipForm,
    TipSettingsForm,
)
from support.models import Campaign, LiveSession, Pledge, TipSettings
from support.summary import session_summary
from swarm.models import Content


def _active_creator(handle: str) -> Creator:
    return get_object_or_404(
        Creator.objects.select_related("user"), handle=handle.lower(), user__is_active=True
    )


# --- fans -----------------------------------------------------------------------------------


@login_required
def tip(request: AuthenticatedHttpRequest, handle: str) -> HttpResponse:
    """GET: the tip form on its own; POST: make the tip and go to its payment page. A refused
    tip sent from the live page shows the live page again, the form filled in with every
    mistake beside its field, so the fan never leaves the stream."""
    creator = _active_creator(handle)
    tip_settings = services.tip_settings_to_show(creator)
    form = TipForm(request.POST or None, minimum=tip_settings.minimum)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            content = None
            if data["content"]:
                content = Content.objects.published().filter(pk=data["content"]).first()
                if content is None:
                    raise Http404("No such content.")
            session = services.current_session(creator) if data["live"] else None
            try:
                made = services.create_tip(
                    request.user,
                    creator,
                    data["amount"],
                    name=data["name"],
                    message=data["message"],
                    content=content,
                    live_session=session,
                )
            except Refused as error:
                form.add_error(None, error.message)
                status = error.status
            else:
                return redirect("tip-payment", tip_id=made.pk)
        if form.fields["live"].to_python(form.data.get("live")):
            return _live_response(request, creator, form, status)
    return render(
        request,
        "support/tip.html",
        {"creator": creator, "form": form, "minimum": tip_settings.minimum},
        status=status,
    )


@login_required
def tip_payment(request: AuthenticatedHttpRequest, tip_id: str) -> HttpResponse:
    try:
        found = services.tip_of(request.user, tip_id)
    except services.NotFound:
        raise Http404("No such tip.") from None
    response = render(
        request,
        "support/tip_payment.html",
        {"tip": found, "invoice": found.invoice, "creator": found.creator},
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _player_csp(session: LiveSession | None) -> dict[str, list[str]]:
    """What the live page's player needs beyond the site's policy: the stream's origin."""
    if session is None:
        return {}
    parts = urlsplit(session.stream_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if session.player == LiveSession.Player.HLS:
        # hls.js fetches the playlist and segments and feeds them to a MediaSource (blob:).
        return {"connect-src": [origin], "media-src": [origin, "blob:"], "worker-src": ["blob:"]}
    return {"frame-src": [origin]}


def live_page(request: HttpRequest, handle: str) -> HttpResponse:
    return _live_response(request, _active_creator(handle), None, 200)


def _live_response(
    request: HttpRequest, creator: Creator, form: TipForm | None, status: int
) -> HttpResponse:
    """The live page; ``form`` is a refused tip's bound form to show in the tip box."""
    tip_settings = services.tip_settings_to_show(creator)
    session = services.current_session(creator)
    last = LiveSession.objects.filter(creator=creator).first() if session is None else None
    response = render(
        request,
        "support/live.html",
        {
            "creator": creator,
            "session": session,
            "ended": last,
            "summary": session_summary(last, tip_settings) if last else None,
            "goal": tip_settings,
            "recent": [
                alert
                for alert in services.alerts_after(creator.pk, 0, include_tests=False)
                if alert.withdrawn_at is None  # its payment left the chain
            ][-20:][::-1],
            "tip_form": form,
        },
        status=status,
    )
    extra = _player_csp(session)
    if extra:
        response._csp_update = extra  # type: ignore[attr-defined]
    return response


def overlay(request: HttpRequest, key: str) -> HttpResponse:
    """The OBS browser source: anyone with the key sees the alerts, nobody else learns more."""
    found = TipSettings.objects.filter(overlay_key=key).first()
    if found is None:
        raise Http404("No such overlay.")
    response = render(request, "support/overlay.html", {"goal": found})
    # The key is in the URL: never cached, never sent on as a referrer, never indexed.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- the studio -----------------------------------------------------------------------------


def _overlay_url(request: HttpRequest, tip_settings: TipSettings) -> str:
    return request.build_absolute_uri(reverse("overlay", args=[tip_settings.overlay_key]))


@creator_required
def studio_tips(request: AuthenticatedHttpRequest, creator: Creator) -> HttpResponse:
    tip_settings = services.tip_settings(creator)
    initial = {
        "minimum": tip_settings.minimum.decimal_string(),
        "alert_on": tip_settings.alert_on,
        "blocked": tip_settings.blocked_words,
        "goal_title": tip_settings.goal_title,
        "goal": tip_settings.goal.decimal_string(),
    }
    form = TipSettingsForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.update_tip_settings(
                    request.user,
                    minimum=data["minimum"],
                    blocked=data["blocked"],
                    alert_on=data["alert_on"],
                    goal_title=data["goal_title"],
                    goal=data["goal"],
                    reset_goal=data["reset_goal"],
                )
            except services.TipRefused as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, "Tip settings saved.")
                return redirect("studio-tips")
    response = render(
        request,
        "support/studio_tips.html",
        {
            "form": form,
            "settings": tip_settings,
            "overlay_url": _overlay_url(request, tip_settings),
            "tips": services.tip_feed(creator),
        },
        status=status,
    )
    response["Cache-Control"] = "private, no-store"  # the overlay's secret URL is on it
    return response


@require_POST
@creator_required
def studio_rotate_key(request: AuthenticatedHttpRequest, creator: Creator) -> HttpResponse:
    services.rotate_overlay_key(request.user)
    messages.success(request, "New overlay URL made; the old one no longer works.")
    return redirect("studio-tips")


@require_POST
@creator_required
def studio_test_alert(request: AuthenticatedHttpRequest, creator: Creator) -> HttpResponse:
    alert = services.send_test_alert(request.user)
    messages.success(request, f"Test alert {alert.seq} sent to your overlay.")
    return redirect("studio-tips")


@creator_required
def studio_live(request: AuthenticatedHttpRequest, creator: Creator) -> HttpResponse:
    tip_settings = services.tip_settings(creator)
    session = services.current_session(creator)
    form = LiveForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.start_live(
                    request.user, form.cleaned_data["title"], form.cleaned_data["stream_url"]
                )
            except services.TipRefused as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, "You are live.")
                return redirect("studio-live")
    past = list(LiveSession.objects.filter(creator=creator, ended_at__isnull=False)[:10])
    return render(
        request,
        "support/studio_live.html",
        {
            "form": form,
            "session": session,
            "summary": session_summary(session, tip_settings) if session else None,
            "past": [(s, session_summary(s, tip_settings)) for s in past],
        },
        status=status,
    )


@require_POST
@creator_required
def studio_live_end(request: AuthenticatedHttpRequest, creator: Creator) -> HttpResponse:
    try:
        services.end_live(request.user)
    except services.NotFound as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Live session ended.")
    return redirect("studio-live")


# --- campaigns ------------------------------------------------------------------------------


def campaign_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(
        Campaign.objects.select_related("creator"), pk=campaign_id, creator__user__is_active=True
    )
    form = PledgeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('login')}?next={request.path}")
        status = 400
        if form.is_valid():
            tier = None
            if form.cleaned_data["tier"]:
                tier = campaign.tiers.filter(pk=form.cleaned_data["tier"]).first()
                if tier is None:
                    raise Http404("No such reward.")
            try:
                fan = authenticated(request).user  # signed in: checked above
                made = campaigns.pledge(
                    fan,
                    campaign,
                    form.cleaned_data["amount"],
                    tier,
                    public_name=form.public_name(),
                )
            except Refused as error:
                form.add_error(None, error.message)
                status = error.status
            else:
                return redirect("pledge", pledge_id=made.pk)
    return render(
        request,
        "support/campaign.html",
        {
            "campaign": campaign,
            "form": form,
            "tiers": list(campaign.tiers.all()),
            "progress": campaigns.progress(campaign),
            "backers": public_backers(campaign),
            "updates": list(campaign.updates.all()[:50]),
            "own": request.user.is_authenticated and request.user.pk == campaign.creator.user_id,
        },
        status=status,
    )


# What a pledge's invoice state means to its backer, on the pledge page and in its script
# (static/js/pledge-payment.js reads them from the page, so both say the same).
PLEDGE_WORDS = {
    "new": "Waiting for your payment…",
    "processing": "Paid: your pledge is in a block. It becomes final in about a minute.",
    "settled": "Paid and final. Thank you for backing this campaign!",
    "expired": "This pledge lapsed: its invoice expired unpaid.",
    "invalid": "This pledge lapsed: the payment failed or left the chain.",
}


@login_required
def pledge_page(request: AuthenticatedHttpRequest, pledge_id: int) -> HttpResponse:
    found = (
        Pledge.objects.filter(pk=pledge_id, backer=request.user)
        .select_related("campaign", "invoice", "tier", "campaign__creator")
        .first()
    )
    if found is None:
        raise Http404("No such pledge.")
    history = found.events.order_by("created_at", "pk")
    invoice = found.invoice
    response = render(
        request,
        "support/pledge.html",
        {
            "pledge": found,
            "invoice": invoice,
            "history": history,
            "status_words": PLEDGE_WORDS.items(),
            "status_now": PLEDGE_WORDS.get(invoice.state, "") if invoice else "",
        },
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def my_pledges(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The backer's pledges, newest first: what is due, what is only promised, what lapsed."""
    pledges = (
        Pledge.objects.filter(backer=request.user)
        .select_related("campaign", "campaign__creator", "tier", "invoice")
        .order_by("-created_at", "-pk")
    )
    response = render(request, "support/pledges.html", {"pledges": pledges})
    response["Cache-Control"] = "private, no-store"
    return response


@creator_required
def studio_campaigns(request: AuthenticatedHttpRequest, creator: Creator) -> HttpResponse:
    form = CampaignForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                made = campaigns.create_campaign(
                    request.user,
                    title=data["title"],
                    story=data["story"],
                    goal=data["goal"],
                    deadline=data["deadline"],
                    mode=data["mode"],
                    tiers=data["tiers"],
                )
            except campaigns.CampaignRefused as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, "Campaign started.")
                return redirect("campaign", campaign_id=made.pk)
    own = list(Campaign.objects.filter(creator=creator))
    return render(
        request,
        "support/studio_campaigns.html",
        {
            "form": form,
            # Each campaign's update form has ids of its own: several on one page, beside
            # the new campaign's form, would otherwise all be id_title and id_body.
            "rows": [
                (
                    c,
                    campaigns.progress(c),
                    CampaignUpdateForm(auto_id=f"id_update_{c.pk}_%s"),
                    pledges_for_creator(c),
                )
                for c in own
            ],
        },
        status=status,
    )


@require_POST
@creator_required
def studio_campaign_update(
    request: AuthenticatedHttpRequest, creator: Creator, campaign_id: int
) -> HttpResponse:
    form = CampaignUpdateForm(request.POST)
    if form.is_valid():
        try:
            campaigns.post_update(
                request.user, campaign_id, form.cleaned_data["title"], form.cleaned_data["body"]
            )
        except campaigns.NotFound:
            raise Http404("No such campaign of yours.") from None
        except campaigns.CampaignRefused as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Update posted.")
    else:
        messages.error(request, "An update has a title and a text.")
    return redirect("studio-campaigns")
