from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from creators.models import Creator


class CreatorProfileForm(forms.ModelForm[Creator]):
    class Meta:
        model = Creator
        fields: tuple[str, ...] = ("handle", "display_name", "bio", "avatar", "payout_address")
        widgets = {
            "bio": forms.Textarea(attrs={"rows": 5}),
            "payout_address": forms.TextInput(
                attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "T…"}
            ),
        }

    def clean_handle(self) -> str:
        return str(self.cleaned_data["handle"]).strip().lower()

    def clean_payout_address(self) -> str:
        return str(self.cleaned_data["payout_address"]).strip()

    def clean_avatar(self) -> UploadedFile | None:
        avatar = self.cleaned_data.get("avatar")
        if isinstance(avatar, UploadedFile) and (avatar.size or 0) > settings.AVATAR_MAX_BYTES:
            limit = settings.AVATAR_MAX_BYTES // 1024
            raise forms.ValidationError(f"The avatar must be at most {limit} KiB.")
        return avatar


class CreatorProfileEditForm(CreatorProfileForm):
    class Meta(CreatorProfileForm.Meta):
        fields: tuple[str, ...] = ("display_name", "bio", "avatar", "payout_address")
