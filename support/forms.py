from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.core.validators import MaxLengthValidator

from payments.money import Amount, AmountError, Token
from support.campaigns import TierSpec
from support.models import MESSAGE_MAX, NAME_MAX, TITLE_MAX, Campaign, TipSettings
from support.text import TextRefused, clean


def _zone(name: str) -> ZoneInfo | None:
    """The IANA time zone ``name``, or None when it is empty or unknown."""
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _amount(text: str, token: Token) -> Amount:
    try:
        return Amount.parse_entered(text, token)
    except AmountError as error:
        raise forms.ValidationError(f"Enter an amount like 250 or 0.5: {error}.") from None


def _text(text: str, limit: int, what: str) -> str:
    try:
        return clean(text, limit, what)
    except TextRefused as error:
        raise forms.ValidationError(str(error)) from None


class TipForm(forms.Form):
    """A tip as typed. Checks everything it can before the service does (the smallest tip,
    the name's and message's lengths once cleaned), so that every mistake is reported at once,
    beside its field; ``support.services.create_tip`` checks again and stays the authority."""

    amount = forms.CharField(label="Amount (BTT)", max_length=40)
    # The widgets' maxlength is the real limit, counted as the server counts (UTF-16 code
    # units, ``support.text.length``); a browser counts the raw text, invisible characters
    # included, so what it lets through always fits once cleaned. The validators only stop
    # absurd posts from scripts: the field's own max_length would override the widget's.
    name = forms.CharField(
        label="Your name (optional)", required=False,
        validators=[MaxLengthValidator(NAME_MAX * 4)],
        widget=forms.TextInput(attrs={"maxlength": NAME_MAX, "autocomplete": "nickname"}),
    )  # fmt: skip
    message = forms.CharField(
        label="Message (optional)", required=False,
        validators=[MaxLengthValidator(MESSAGE_MAX * 4)],
        widget=forms.Textarea(attrs={"maxlength": MESSAGE_MAX, "rows": 3}),
    )  # fmt: skip
    content = forms.IntegerField(required=False, widget=forms.HiddenInput)
    live = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, minimum: Amount, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.minimum = minimum
        self.fields["amount"].help_text = f"At least {minimum}."

    def clean_amount(self) -> Amount:
        amount = _amount(self.cleaned_data["amount"], Token.BTT)
        if amount < self.minimum:
            raise forms.ValidationError(f"The smallest tip here is {self.minimum}.")
        return amount

    def clean_name(self) -> str:
        return _text(self.cleaned_data["name"], NAME_MAX, "name")

    def clean_message(self) -> str:
        return _text(self.cleaned_data["message"], MESSAGE_MAX, "message")


class TipSettingsForm(forms.Form):
    minimum = forms.CharField(label="Smallest tip (BTT)", max_length=40)
    alert_on = forms.ChoiceField(
        label="Show an alert", choices=TipSettings.AlertOn.choices, widget=forms.RadioSelect
    )
    blocked = forms.CharField(
        label="Blocked words",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One word or phrase a line; masked with * in names and messages.",
    )
    goal_title = forms.CharField(label="Goal title", required=False, max_length=TITLE_MAX)
    goal = forms.CharField(label="Goal (BTT, 0 for none)", max_length=40, initial="0")
    reset_goal = forms.BooleanField(label="Start the goal from zero again", required=False)

    def clean_minimum(self) -> Amount:
        return _amount(self.cleaned_data["minimum"], Token.BTT)

    def clean_goal(self) -> Amount:
        return _amount(self.cleaned_data["goal"], Token.BTT)


class LiveForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX)
    stream_url = forms.CharField(
        label="Stream URL",
        max_length=500,
        help_text="An HLS stream (https://…/live.m3u8) or a player's embed URL "
        "(YouTube, Twitch, Vimeo, PeerTube).",
    )


class PledgeForm(forms.Form):
    ANONYMOUS = "anonymous"
    NAMED = "named"

    amount = forms.CharField(label="Amount (BTT)", max_length=40)
    tier = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # How the backer is listed on the campaign page. Anonymous unless they choose otherwise:
    # being named in public is something a backer asks for, never a default.
    listing = forms.ChoiceField(
        label="List me as",
        choices=[(ANONYMOUS, "Anonymous"), (NAMED, "By this name:")],
        required=False,
    )
    listed_name = forms.CharField(
        label="Name to be listed by", required=False,
        validators=[MaxLengthValidator(NAME_MAX * 4)],  # as TipForm.name: the widget's limit
        widget=forms.TextInput(attrs={"maxlength": NAME_MAX, "autocomplete": "nickname"}),
    )  # fmt: skip

    def clean_amount(self) -> Amount:
        return _amount(self.cleaned_data["amount"], Token.BTT)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("listing") == self.NAMED and not data.get("listed_name", "").strip():
            self.add_error("listed_name", "Enter the name to be listed by, or choose Anonymous.")
        return data

    def public_name(self) -> str:
        """The name the backer chose to be listed by; "" for anonymous (the default)."""
        if self.cleaned_data.get("listing") != self.NAMED:
            return ""
        name: str = self.cleaned_data.get("listed_name", "")
        return name


class CampaignForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX)
    story = forms.CharField(max_length=20_000, widget=forms.Textarea(attrs={"rows": 6}))
    goal = forms.CharField(label="Goal (BTT)", max_length=40)
    deadline = forms.DateTimeField(
        help_text="Time zone: UTC.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    # The picker gives a wall-clock time with no zone: static/js/time-zone.js fills in the
    # browser's zone (IANA name), and the deadline is read in it; without it, in UTC.
    time_zone = forms.CharField(
        required=False,
        max_length=64,
        widget=forms.HiddenInput(attrs={"data-time-zone-for": "id_deadline"}),
    )
    mode = forms.ChoiceField(choices=Campaign.Mode.choices, widget=forms.RadioSelect)
    tiers = forms.CharField(
        label="Reward tiers",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One a line: title | smallest pledge in BTT | how many (empty: unlimited).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone = _zone(str(self.data.get("time_zone", ""))) if self.is_bound else None
        if zone is not None:  # shown again after a refusal: the zone the time was read in
            self.fields["deadline"].help_text = f"Time zone: {zone.key}."

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        deadline, zone = data.get("deadline"), _zone(data.get("time_zone") or "")
        if data.get("time_zone") and zone is None:
            # Said beside the picker: the hidden field has no place of its own on the page.
            self.add_error("deadline", "Unknown time zone; reload the page.")
        if isinstance(deadline, datetime) and zone is not None:
            # Django read the wall-clock time in UTC (TIME_ZONE); it was meant in ``zone``.
            data["deadline"] = deadline.replace(tzinfo=None).replace(tzinfo=zone)
        return data

    def clean_goal(self) -> Amount:
        return _amount(self.cleaned_data["goal"], Token.BTT)

    def clean_tiers(self) -> list[TierSpec]:
        specs = []
        for number, line in enumerate(self.cleaned_data["tiers"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split("|")]
            if len(parts) not in (2, 3) or not parts[0]:
                raise forms.ValidationError(f"Line {number}: title | amount | how many.")
            limit = None
            if len(parts) == 3 and parts[2]:
                if not parts[2].isdecimal():
                    raise forms.ValidationError(f"Line {number}: how many is a whole number.")
                limit = int(parts[2])
            specs.append(TierSpec(parts[0], _amount(parts[1], Token.BTT), limit))
        return specs


class CampaignUpdateForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX)
    body = forms.CharField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 4}))
