from __future__ import annotations

from django import forms

from payments.money import Amount, AmountError, Token
from support.campaigns import TierSpec
from support.models import MESSAGE_MAX, NAME_MAX, TITLE_MAX, Campaign, TipSettings


def _amount(text: str, token: Token) -> Amount:
    try:
        return Amount.parse_entered(text, token)
    except AmountError as error:
        raise forms.ValidationError(f"Enter an amount like 250 or 0.5: {error}.") from None


class TipForm(forms.Form):
    # Lengths are checked by the service after cleaning (zero-width characters do not count);
    # the widget's limit is only a hint, and the field's own limit stops absurd posts.
    amount = forms.CharField(label="Amount (BTT)", max_length=40)
    name = forms.CharField(
        label="Your name (optional)", required=False, max_length=NAME_MAX * 4,
        widget=forms.TextInput(attrs={"maxlength": NAME_MAX, "autocomplete": "nickname"}),
    )  # fmt: skip
    message = forms.CharField(
        label="Message (optional)", required=False, max_length=MESSAGE_MAX * 4,
        widget=forms.Textarea(attrs={"maxlength": MESSAGE_MAX, "rows": 3}),
    )  # fmt: skip
    content = forms.IntegerField(required=False, widget=forms.HiddenInput)
    live = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean_amount(self) -> Amount:
        return _amount(self.cleaned_data["amount"], Token.BTT)


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
    amount = forms.CharField(label="Amount (BTT)", max_length=40)
    tier = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def clean_amount(self) -> Amount:
        return _amount(self.cleaned_data["amount"], Token.BTT)


class CampaignForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX)
    story = forms.CharField(max_length=20_000, widget=forms.Textarea(attrs={"rows": 6}))
    goal = forms.CharField(label="Goal (BTT)", max_length=40)
    deadline = forms.DateTimeField(
        help_text="UTC, e.g. 2027-01-31 18:00",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    mode = forms.ChoiceField(choices=Campaign.Mode.choices, widget=forms.RadioSelect)
    tiers = forms.CharField(
        label="Reward tiers",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One a line: title | smallest pledge in BTT | how many (empty: unlimited).",
    )

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
