"""The studio's tier form: prices are entered as decimals in one token."""

from __future__ import annotations

from typing import Any

from django import forms

from creators.models import Creator
from memberships import services
from memberships.models import Tier
from payments.money import Amount, AmountError, Token


class TierForm(forms.Form):
    name = forms.CharField(max_length=80)
    description = forms.CharField(widget=forms.Textarea, required=False)
    token = forms.ChoiceField(choices=[(t.value, t.value) for t in Token if t != Token.TRX])
    monthly = forms.CharField(max_length=40, help_text="price per month")
    yearly = forms.CharField(max_length=40, required=False, help_text="empty: monthly only")
    member_limit = forms.IntegerField(min_value=1, required=False, help_text="empty: no limit")
    rank = forms.IntegerField(
        min_value=1, max_value=100, initial=1, help_text="higher covers lower"
    )

    def __init__(self, *args: Any, tier: Tier | None = None, **kwargs: Any) -> None:
        self.tier = tier
        if tier is not None and not args[0]:
            yearly = tier.price_yearly
            kwargs["initial"] = {
                "name": tier.name, "description": tier.description, "token": tier.token,
                "monthly": str(tier.price_monthly.decimal_string() if tier.price_monthly else ""),
                "yearly": "" if yearly is None else str(yearly.decimal_string()),
                "member_limit": tier.member_limit, "rank": tier.rank,
            }  # fmt: skip
        super().__init__(*args, **kwargs)

    def _amount(self, field: str) -> Amount | None:
        text = self.cleaned_data.get(field) or ""
        if not text:
            return None
        try:
            return Amount.parse_entered(text, self.cleaned_data.get("token", "BTT"))
        except AmountError as error:
            self.add_error(field, str(error))
            return None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["monthly_amount"] = self._amount("monthly")
        data["yearly_amount"] = self._amount("yearly")
        return data

    def save(self, creator: Creator) -> Tier:
        data = self.cleaned_data
        return services.save_tier(
            creator,
            name=data["name"],
            description=data["description"],
            monthly=data["monthly_amount"],
            yearly=data["yearly_amount"],
            member_limit=data["member_limit"],
            rank=data["rank"],
            tier=self.tier,
        )
