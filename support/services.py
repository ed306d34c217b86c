"""Tips: settings, making a tip (an invoice of kind ``tip``), raising alerts when its invoice
is paid, the overlay key, test alerts; live sessions.

``invoice_moved`` hears the outcomes of tip and pledge invoices (``payments.outcomes``,
registered in ``SupportConfig.ready``) inside the transaction that produced them; everything
else is called by views and the API.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from btt_platform import clock
from btt_platform.errors import Refused
from creators.models import Creator
from payments.invoices import create_invoice
from payments.models import Invoice
from payments.money import Amount, Token
from support import campaigns, events
from support.models import (
    MESSAGE_MAX,
    NAME_MAX,
    TITLE_MAX,
    Alert,
    LiveSession,
    Tip,
    TipSettings,
    is_anonymous_name,
)
from support.text import TextRefused, blocked_words, clean, mask
from swarm.models import Content

DEFAULT_MINIMUM = Amount.parse("100", Token.BTT)
# Alert tiers by the amount paid against the creator's minimum tip: x1, x10, x100, x1000.
TIER_FACTORS = (1, 10, 100, 1000)
REPLAY_LIMIT = 100
MAX_OPEN_TIPS_PER_PAYER = 5
TEST_ALERT_NAME = "Test alert"
TEST_ALERT_MESSAGE = "This is what a tip looks like."


class TipRefused(Refused):
    """A request about tips the platform turns down (400 unless a subclass says otherwise)."""


class NotFound(TipRefused):
    status = 404


class TooManyOpenTips(TipRefused):
    status = 429


# --- settings -------------------------------------------------------------------------------


# The rate-limit group of tip creation: the form and the API count together, per account.
TIPS_LIMIT_GROUP = "support.tips"


def _new_overlay_key() -> str:
    return secrets.token_urlsafe(32)


def tip_settings(creator: Creator) -> TipSettings:
    """The creator's tip settings, made with the defaults on first use."""
    found = TipSettings.objects.filter(creator=creator).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return TipSettings.objects.create(
                creator=creator,
                token=DEFAULT_MINIMUM.token.value,
                minimum_units=DEFAULT_MINIMUM.units,
                overlay_key=_new_overlay_key(),
            )
    except IntegrityError:  # made concurrently
        return TipSettings.objects.get(creator=creator)


def tip_settings_to_show(creator: Creator) -> TipSettings:
    """The creator's settings, or unsaved defaults: pages read them without making a row."""
    found = TipSettings.objects.filter(creator=creator).first()
    if found is not None:
        return found
    return TipSettings(
        creator=creator, token=DEFAULT_MINIMUM.token.value, minimum_units=DEFAULT_MINIMUM.units
    )


def _own_settings(user: User) -> TipSettings:
    creator = Creator.objects.filter(user=user).first()
    if creator is None:
        raise NotFound("You are not a creator.")
    return tip_settings(creator)


def update_tip_settings(
    user: User,
    *,
    minimum: Amount,
    blocked: str,
    alert_on: str,
    goal_title: str,
    goal: Amount,
    reset_goal: bool = False,
) -> TipSettings:
    """Save a creator's tip settings. Raises NotFound (not a creator), TipRefused (a minimum not
    above zero, another token, a title or word list too long)."""
    current = _own_settings(user)
    if minimum.token != Token(current.token) or goal.token != Token(current.token):
        raise TipRefused(f"Tips are in {current.token}.")
    if minimum.units <= 0:
        raise TipRefused("The smallest tip is more than zero.")
    if goal.units < 0:
        raise TipRefused("A goal is not negative.")
    if alert_on not in TipSettings.AlertOn.values:
        raise TipRefused("Alerts come when a payment is processing or settled.")
    try:
        title = clean(goal_title, TITLE_MAX, "goal title")
        words = blocked_words(blocked)
    except TextRefused as error:
        raise TipRefused(str(error)) from None
    with transaction.atomic():
        settings = TipSettings.objects.select_for_update().get(pk=current.pk)
        settings.minimum_units = minimum.units
        settings.blocked_words = "\n".join(words)
        settings.alert_on = alert_on
        settings.goal_title = title
        settings.goal_units = goal.units
        if reset_goal:
            settings.goal_raised_units = 0
        settings.save()
        events.send_goal(settings)
    return settings


def rotate_overlay_key(user: User) -> TipSettings:
    """A new secret overlay URL; the old one stops at once (its open pages are told to close,
    and nothing is sent to it any more). Raises NotFound (not a creator)."""
    current = _own_settings(user)
    with transaction.atomic():
        settings = TipSettings.objects.select_for_update().get(pk=current.pk)
        old = settings.overlay_key
        settings.overlay_key = _new_overlay_key()
        settings.overlay_key_rotated_at = timezone.now()
        settings.save(update_fields=["overlay_key", "overlay_key_rotated_at"])
        events.send_revoked(old)
    return settings


# --- tips -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TipText:
    name: str
    message: str


def tip_text(settings: TipSettings, name: str, message: str) -> TipText:
    """The tipper's name and message cleaned and masked. Raises TipRefused (too long)."""
    try:
        clean_name = clean(name, NAME_MAX, "name")
        clean_message = clean(message, MESSAGE_MAX, "message")
    except TextRefused as error:
        raise TipRefused(str(error)) from None
    words = settings.blocked_words.splitlines()
    # A name that reads "Anonymous" is kept as no name: the tip is anonymous, as it looks.
    shown_name = "" if is_anonymous_name(clean_name) else mask(clean_name, words)
    return TipText(shown_name, mask(clean_message, words))


def create_tip(
    payer: User,
    creator: Creator,
    amount: Amount,
    *,
    name: str = "",
    message: str = "",
    content: Content | None = None,
    live_session: LiveSession | None = None,
) -> Tip:
    """A tip of ``amount`` to ``creator`` and the invoice that pays it.

    Raises NotFound (an inactive creator, content or session not the creator's), TipRefused
    (the creator's own page, below the minimum, another token, a name or message too long),
    TooManyOpenTips, and what ``payments.invoices.create_invoice`` raises (PaymentRefused).
    """
    if not creator.user.is_active:
        raise NotFound("No such creator.")
    if creator.user_id == payer.pk:
        raise TipRefused("You cannot tip yourself.")
    if content is not None and content.creator_id != creator.pk:
        raise NotFound("No such content.")
    if live_session is not None and (
        live_session.creator_id != creator.pk or not live_session.is_live
    ):
        raise NotFound("This live session has ended.")
    settings = tip_settings(creator)
    if amount.token != Token(settings.token):
        raise TipRefused(f"Tips are in {settings.token}.")
    if amount < settings.minimum:
        raise TipRefused(f"The smallest tip here is {settings.minimum}.")
    text = tip_text(settings, name, message)
    open_tips = Tip.objects.filter(
        invoice__payer=payer,
        invoice__state=Invoice.State.NEW,
        invoice__expires_at__gt=clock.now(),
    ).count()
    if open_tips >= MAX_OPEN_TIPS_PER_PAYER:
        raise TooManyOpenTips("Too many unpaid tips; pay or let some expire first.")
    with transaction.atomic():
        invoice = create_invoice(kind=Invoice.Kind.TIP, creator=creator, amount=amount, payer=payer)
        return Tip.objects.create(
            creator=creator,
            invoice=invoice,
            content=content,
            live_session=live_session,
            name=text.name,
            message=text.message,
        )


def invoice_moved(invoice: Invoice, new_state: str) -> None:
    """An outcome of a tip or pledge invoice (``payments.outcomes``), in its transaction: a
    tip whose invoice reaches the creator's alert state (processing or settled; settled also
    catches a tip that skipped its processing alert) raises its alert, once."""
    if invoice.kind == Invoice.Kind.PLEDGE:
        campaigns.pledge_invoice_moved(invoice, new_state)
        return
    if invoice.kind != Invoice.Kind.TIP:
        return
    if new_state == Invoice.State.INVALID:
        tip = Tip.objects.filter(invoice=invoice).first()
        if tip is not None:
            withdraw_alert(tip)
        return
    if new_state not in (Invoice.State.PROCESSING, Invoice.State.SETTLED):
        return
    tip = Tip.objects.filter(invoice=invoice).first()
    if tip is None:
        return
    settings = tip_settings(tip.creator)
    at_processing = settings.alert_on == TipSettings.AlertOn.PROCESSING
    if new_state == Invoice.State.PROCESSING and not at_processing:
        return
    raise_alert(
        settings,
        name=tip.display_name,
        message=tip.message,
        # The tip as asked: the exact amount paid carries the invoice's unique-amount tag
        # (and any over-payment), which the stream, the feed and the goal never show.
        amount=invoice.asked,
        tip=tip,
    )


def tier_of(amount: Amount, minimum: Amount) -> int:
    tier = 1
    for number, factor in enumerate(TIER_FACTORS, start=1):
        if amount.units >= minimum.units * factor:
            tier = number
    return tier


def raise_alert(
    settings: TipSettings,
    *,
    name: str,
    message: str,
    amount: Amount,
    tip: Tip | None = None,
    test: bool = False,
) -> Alert | None:
    """The next alert of the creator, sent to their overlay (and live page) after commit; None
    when this tip has had its alert already. The settings row is locked, so alerts are numbered
    and committed in one order per creator."""
    with transaction.atomic():
        locked = TipSettings.objects.select_for_update().get(pk=settings.pk)
        if tip is not None and Alert.objects.filter(tip=tip).exists():
            return None
        locked.last_alert_seq += 1
        fields = ["last_alert_seq"]
        if not test and amount.token == Token(locked.token):
            locked.goal_raised_units += amount.units
            fields.append("goal_raised_units")
        locked.save(update_fields=fields)
        alert = Alert.objects.create(
            creator_id=locked.creator_id,
            seq=locked.last_alert_seq,
            tip=tip,
            test=test,
            name=name,
            message=message,
            token=amount.token.value,
            units=amount.units,
            tier=tier_of(amount, locked.minimum),
        )
        events.send_alert(alert, locked)
    return alert


def withdraw_alert(tip: Tip) -> Alert | None:
    """The tip's payment left the chain after its alert was raised (processing -> invalid):
    the alert is marked withdrawn, its amount leaves the goal, and overlays and live pages are
    told (one still queued is not shown; a replay skips it). None if it had no alert."""
    with transaction.atomic():
        settings = TipSettings.objects.select_for_update().get(creator_id=tip.creator_id)
        alert = Alert.objects.filter(tip=tip, withdrawn_at__isnull=True).first()
        if alert is None:
            return None
        alert.withdrawn_at = timezone.now()
        alert.save(update_fields=["withdrawn_at"])
        if alert.token == settings.token:
            # It counted when raised; a goal reset since then may have counted it out already.
            settings.goal_raised_units = max(0, settings.goal_raised_units - alert.units)
            settings.save(update_fields=["goal_raised_units"])
        events.send_withdrawn(alert, settings)
    return alert


def send_test_alert(user: User, name: str = "", message: str = "", units: int = 0) -> Alert:
    """A test alert on the creator's overlay only (not on the live page, not in the goal)."""
    settings = _own_settings(user)
    text = tip_text(settings, name or TEST_ALERT_NAME, message or TEST_ALERT_MESSAGE)
    amount = Amount(units or settings.minimum_units, Token(settings.token))
    alert = raise_alert(settings, name=text.name, message=text.message, amount=amount, test=True)
    assert alert is not None
    return alert


def alerts_after(creator_id: int, seq: int, *, include_tests: bool = True) -> list[Alert]:
    """The alerts after ``seq``, oldest first (at most REPLAY_LIMIT, the latest ones)."""
    found = Alert.objects.filter(creator_id=creator_id, seq__gt=seq)
    if not include_tests:
        found = found.filter(test=False)
    latest = list(found.order_by("-seq")[:REPLAY_LIMIT])
    return latest[::-1]


def tip_feed(creator: Creator) -> list[Tip]:
    """The creator's tips, newest first, with their invoices (the studio's feed)."""
    return list(
        Tip.objects.filter(creator=creator)
        .select_related("invoice", "content", "live_session")
        .order_by("-created_at", "-pk")[:200]
    )


def tip_of(user: User, tip_id: str) -> Tip:
    """The tipper's own tip (its payment page). Raises NotFound."""
    tip = (
        Tip.objects.filter(pk=tip_id, invoice__payer=user)
        .select_related("invoice", "creator")
        .first()
    )
    if tip is None:
        raise NotFound("No such tip.")
    return tip


# --- live sessions --------------------------------------------------------------------------

# Players that may be framed on a live page: host -> the path prefix of their embed URLs.
EMBED_HOSTS = {
    "www.youtube.com": "/embed/",
    "www.youtube-nocookie.com": "/embed/",
    "player.twitch.tv": "/",
    "player.vimeo.com": "/video/",
    "peertube.tv": "/videos/embed/",
}


def stream_player(url: str) -> str:
    """``hls`` or ``embed`` for a stream URL. Raises TipRefused for anything else."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise TipRefused("That is not a URL.") from None
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise TipRefused("A stream URL is an https:// address.")
    if parts.port not in (None, 443):
        raise TipRefused("A stream URL uses the standard https port.")
    if parts.path.lower().endswith(".m3u8"):
        return LiveSession.Player.HLS
    prefix = EMBED_HOSTS.get(parts.hostname.lower())
    if prefix is not None and parts.path.startswith(prefix):
        return LiveSession.Player.EMBED
    raise TipRefused(
        "Use an HLS stream (.m3u8) or an embed URL of: " + ", ".join(sorted(EMBED_HOSTS)) + "."
    )


def current_session(creator: Creator) -> LiveSession | None:
    return LiveSession.objects.filter(creator=creator, ended_at__isnull=True).first()


def start_live(user: User, title: str, stream_url: str) -> LiveSession:
    """Start a live session. Raises NotFound (not a creator), TipRefused (a bad title or
    stream URL, a session already live)."""
    settings = _own_settings(user)
    try:
        clean_title = clean(title, TITLE_MAX, "title")
    except TextRefused as error:
        raise TipRefused(str(error)) from None
    if not clean_title:
        raise TipRefused("A live session has a title.")
    player = stream_player(stream_url.strip())
    try:
        with transaction.atomic():
            session = LiveSession.objects.create(
                creator_id=settings.creator_id,
                title=clean_title,
                stream_url=stream_url.strip(),
                player=player,
            )
            events.send_live_state(settings.creator_id, True, clean_title)
    except IntegrityError:
        raise TipRefused("You are live already; end that session first.") from None
    return session


def end_live(user: User) -> LiveSession:
    """End the creator's live session. Raises NotFound (not live)."""
    settings = _own_settings(user)
    with transaction.atomic():
        session = (
            LiveSession.objects.select_for_update()
            .filter(creator_id=settings.creator_id, ended_at__isnull=True)
            .first()
        )
        if session is None:
            raise NotFound("You are not live.")
        session.ended_at = timezone.now()
        session.save(update_fields=["ended_at"])
        events.send_live_state(settings.creator_id, False, session.title)
    return session
