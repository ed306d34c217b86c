"""Tips, the alerts they raise on a creator's OBS overlay and live page, and live sessions.

A tip is a wish to pay (name, message, amount) bound to a ``payments`` invoice of kind ``tip``;
the invoice's state machine decides when it counts. Payments announces each outcome of the
invoice (``payments.outcomes``) to ``support.services.invoice_moved`` in the same transaction,
which turns a tip paid far enough
(processing or settled, the creator's choice) into an ``Alert``: one per tip, numbered in order
per creator, so an overlay that reconnects asks for what came after the last one it showed.
"""

from __future__ import annotations

import unicodedata
import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from btt_platform.records import AppendOnlyModel, AppendOnlyQuerySet
from payments.fields import BaseUnitsField
from payments.models import TOKEN_CHOICES
from payments.money import Amount, Token

NAME_MAX = 40
# What an anonymous tip or backer is shown as, everywhere the public (or the creator) looks.
ANONYMOUS = "Anonymous"


# Cyrillic and Greek letters drawn like the Latin ones of "anonymous" (Unicode's confusables
# for exactly these letters: Cyrillic a, o, y, dze; Greek alpha, eta, omicron, upsilon), so
# that a name spelled with them cannot pose as the anonymous row. Escaped: they look Latin.
_LOOKALIKES = str.maketrans(
    {
        "\u0430": "a",
        "\u043e": "o",
        "\u0443": "y",
        "\u0455": "s",
        "\u03b1": "a",
        "\u03b7": "n",
        "\u03bf": "o",
        "\u03c5": "u",
    }
)


def is_anonymous_name(name: str) -> bool:
    """A name that is no name: empty, or one that reads as "Anonymous" (any case or width,
    Cyrillic or Greek lookalike letters). Such a name is shown, counted and grouped as
    anonymous, so a fan who types it is anonymous, and nobody can pose as the anonymous row."""
    folded = unicodedata.normalize("NFKC", name).casefold().translate(_LOOKALIKES).strip()
    return folded in ("", ANONYMOUS.casefold())


MESSAGE_MAX = 200
TITLE_MAX = 100


class TipSettings(models.Model):
    """A creator's tipping settings, overlay secret and goal. One row per creator, made on first
    use; its row lock orders alerts per creator (``support.services.raise_alert``)."""

    class AlertOn(models.TextChoices):
        PROCESSING = "processing", "when the payment is in a block (seconds)"
        SETTLED = "settled", "when the payment is solidified (about a minute)"

    creator = models.OneToOneField(
        "creators.Creator", on_delete=models.CASCADE, related_name="tip_settings"
    )
    token = models.CharField(max_length=8, choices=TOKEN_CHOICES, default=Token.BTT.value)
    minimum_units = BaseUnitsField(help_text="the smallest tip, base units")
    blocked_words = models.TextField(
        blank=True, max_length=2000, help_text="one word or phrase a line; masked in tips"
    )
    alert_on = models.CharField(max_length=10, choices=AlertOn.choices, default=AlertOn.PROCESSING)
    # The overlay's URL holds this secret; rotating it locks the old URL out at once.
    overlay_key = models.CharField(max_length=64, unique=True)
    overlay_key_rotated_at = models.DateTimeField(null=True, blank=True)
    goal_title = models.CharField(max_length=TITLE_MAX, blank=True)
    goal_units = BaseUnitsField(default=0, help_text="0: no goal")
    goal_raised_units = BaseUnitsField(default=0, help_text="tips alerted since the goal was set")
    last_alert_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"tip settings of creator {self.creator_id}"

    @property
    def minimum(self) -> Amount:
        return Amount(self.minimum_units, Token(self.token))

    @property
    def goal(self) -> Amount:
        return Amount(self.goal_units, Token(self.token))

    @property
    def goal_raised(self) -> Amount:
        return Amount(self.goal_raised_units, Token(self.token))


class LiveSession(models.Model):
    class Player(models.TextChoices):
        HLS = "hls", "HLS stream (.m3u8)"
        EMBED = "embed", "embedded player"

    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, related_name="live_sessions"
    )
    title = models.CharField(max_length=TITLE_MAX)
    stream_url = models.URLField(max_length=500)
    player = models.CharField(max_length=8, choices=Player.choices)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["creator"], condition=Q(ended_at__isnull=True), name="one_live_session"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.creator_id}, {'live' if self.is_live else 'ended'})"

    @property
    def is_live(self) -> bool:
        return self.ended_at is None


class Tip(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    creator = models.ForeignKey("creators.Creator", on_delete=models.PROTECT, related_name="tips")
    invoice = models.OneToOneField("payments.Invoice", on_delete=models.PROTECT, related_name="tip")
    content = models.ForeignKey(
        "swarm.Content", on_delete=models.SET_NULL, null=True, blank=True, related_name="tips"
    )
    live_session = models.ForeignKey(
        LiveSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="tips"
    )
    # As the tipper typed them, cleaned (``support.text.clean``) and masked by the creator's
    # word filter; shown everywhere as text, never as markup.
    name = models.CharField(max_length=NAME_MAX, blank=True)
    message = models.CharField(max_length=MESSAGE_MAX, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"tip {self.id} to creator {self.creator_id}"

    @property
    def anonymous(self) -> bool:
        return is_anonymous_name(self.name)

    @property
    def display_name(self) -> str:
        return ANONYMOUS if self.anonymous else self.name


class Alert(models.Model):
    """What an overlay shows: a paid tip, or a test the creator sent. ``seq`` counts per creator
    from 1 without gaps, so a client knows when it missed one."""

    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, related_name="tip_alerts"
    )
    seq = models.BigIntegerField()
    tip = models.OneToOneField(
        Tip, on_delete=models.CASCADE, null=True, blank=True, related_name="alert"
    )
    test = models.BooleanField(default=False)
    name = models.CharField(max_length=NAME_MAX)
    message = models.CharField(max_length=MESSAGE_MAX, blank=True)
    token = models.CharField(max_length=8, choices=TOKEN_CHOICES)
    units = BaseUnitsField()
    tier = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    # Set when the tip's payment left the chain after its alert (processing -> invalid): the
    # alert no longer counts anywhere, and clients told of it drop it if not yet shown.
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["creator", "seq"]
        constraints = [models.UniqueConstraint(fields=["creator", "seq"], name="alert_seq_unique")]

    def __str__(self) -> str:
        return f"alert {self.seq} of creator {self.creator_id}"

    @property
    def amount(self) -> Amount:
        return Amount(self.units, Token(self.token))


# --- crowdfunding ---------------------------------------------------------------------------


class Campaign(models.Model):
    """A goal in a token by a deadline. ``flexible``: each pledge is an invoice paid at once and
    the creator keeps what is raised. ``all_or_nothing``: pledges are commitments; when the
    deadline passes with the goal met, every backer gets an invoice to pay (with their own
    wallet: nothing is ever taken); otherwise the pledges lapse."""

    class Mode(models.TextChoices):
        FLEXIBLE = "flexible", "Flexible: keep what you raise"
        ALL_OR_NOTHING = "all_or_nothing", "All or nothing: invoices only if the goal is met"

    class State(models.TextChoices):
        OPEN = "open"
        SUCCEEDED = "succeeded", "Succeeded: the goal was met"
        FAILED = "failed", "Failed: the goal was not met"
        ENDED = "ended", "Ended (flexible: the creator keeps what was raised)"

    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.PROTECT, related_name="campaigns"
    )
    title = models.CharField(max_length=TITLE_MAX)
    story = models.TextField(max_length=20_000)
    token = models.CharField(max_length=8, choices=TOKEN_CHOICES, default=Token.BTT.value)
    goal_units = BaseUnitsField()
    deadline = models.DateTimeField()
    mode = models.CharField(max_length=16, choices=Mode.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "deadline"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.state})"

    @property
    def goal(self) -> Amount:
        return Amount(self.goal_units, Token(self.token))


class RewardTier(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="tiers")
    title = models.CharField(max_length=TITLE_MAX)
    description = models.CharField(max_length=1000, blank=True)
    minimum_units = BaseUnitsField()
    limit = models.PositiveIntegerField(null=True, blank=True, help_text="empty: unlimited")
    # Slots held by pledges that have not lapsed; taken by a conditional UPDATE.
    taken = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["minimum_units", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(limit__isnull=True) | Q(taken__lte=models.F("limit")),
                name="reward_tier_within_limit",
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} of campaign {self.campaign_id}"

    @property
    def minimum(self) -> Amount:
        return Amount(self.minimum_units, Token(self.campaign.token))

    @property
    def left(self) -> int | None:
        return None if self.limit is None else self.limit - self.taken


class Pledge(models.Model):
    class State(models.TextChoices):
        COMMITTED = "committed", "Committed: invoiced if the goal is met"
        INVOICED = "invoiced", "Invoiced: waiting for the backer's payment"
        PAID = "paid"
        LAPSED = "lapsed", "Lapsed: not paid, or the goal was not met"

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="pledges")
    backer = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="pledges")
    tier = models.ForeignKey(
        RewardTier, on_delete=models.PROTECT, null=True, blank=True, related_name="pledges"
    )
    units = BaseUnitsField()
    state = models.CharField(max_length=10, choices=State.choices)
    invoice = models.OneToOneField(
        "payments.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="pledge"
    )
    # How the backer chose to be listed, at pledge time: a display name of their own, cleaned
    # like a tip's, or empty for anonymous (the default). The account is never shown instead,
    # neither on the campaign page nor in the creator's studio.
    public_name = models.CharField(max_length=NAME_MAX, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"pledge {self.pk} to campaign {self.campaign_id} ({self.state})"

    @property
    def anonymous(self) -> bool:
        return is_anonymous_name(self.public_name)

    @property
    def listed_as(self) -> str:
        return ANONYMOUS if self.anonymous else self.public_name

    @property
    def amount(self) -> Amount:
        return Amount(self.units, Token(self.campaign.token))


class PledgeEvent(AppendOnlyModel):
    """What happened to a pledge: made, invoiced, paid, lapsed, when and why. Append-only, like
    ``payments.InvoiceEvent``: the answer to a backer asking what became of their pledge."""

    pledge = models.ForeignKey(Pledge, on_delete=models.PROTECT, related_name="events")
    from_state = models.CharField(max_length=10, blank=True, help_text="empty: the pledge was made")
    to_state = models.CharField(max_length=10)
    actor = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text="empty: the platform (an invoice moving, the deadline task)",
    )
    invoice = models.ForeignKey(
        "payments.Invoice", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AppendOnlyQuerySet["PledgeEvent"].as_manager()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"pledge {self.pledge_id}: {self.from_state or 'made'} -> {self.to_state}"


class CampaignUpdate(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="updates")
    title = models.CharField(max_length=TITLE_MAX)
    body = models.TextField(max_length=10_000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title
