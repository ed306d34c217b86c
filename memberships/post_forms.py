"""The studio's post form: title, text, who may read it, and the creator's own contents."""

from __future__ import annotations

from typing import Any

from django import forms

from creators.models import Creator
from memberships.models import Tier
from swarm.models import Content


class TierChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} and higher tiers"


class PostForm(forms.Form):
    title = forms.CharField(max_length=200)
    body = forms.CharField(
        label="Text",
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text="Plain text; **bold**, *italic*, `code` and links are shown as such.",
    )
    tier = TierChoice(
        queryset=Tier.objects.none(),
        required=False,
        empty_label="Everyone (public)",
        label="Who may read it",
        help_text="Members of this tier or a higher one.",
    )
    attachments = forms.ModelMultipleChoiceField(
        queryset=Content.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Each content keeps its own access: attaching it grants nothing.",
    )

    def __init__(self, *args: Any, creator: Creator, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tier_field = self.fields["tier"]
        assert isinstance(tier_field, forms.ModelChoiceField)
        tier_field.queryset = Tier.objects.filter(creator=creator, retired_at__isnull=True)
        attachments = self.fields["attachments"]
        assert isinstance(attachments, forms.ModelMultipleChoiceField)
        attachments.queryset = Content.objects.filter(creator=creator, removed_at__isnull=True)
