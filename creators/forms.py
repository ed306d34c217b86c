"""The profile forms: becoming a creator and editing the profile; the image limits that
avatars and covers share."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from creators.models import Creator

# A few kilobytes of PNG can claim 12000x12000 pixels: every thumbnail and browser showing it
# would decode 576 MB. Covers and avatars stay within this (4096x4096 is 16.8 Mpx).
IMAGE_MAX_PIXELS = 25_000_000
IMAGE_MAX_SIDE = 8192


def too_many_pixels(upload: UploadedFile, what: str) -> None:
    """Raises ValidationError when the image Django's ImageField read is larger than allowed."""
    image = getattr(upload, "image", None)
    width, height = getattr(image, "size", (0, 0))
    if width * height > IMAGE_MAX_PIXELS or max(width, height) > IMAGE_MAX_SIDE:
        raise forms.ValidationError(
            f"The {what} is {width}x{height} pixels; at most {IMAGE_MAX_SIDE} pixels a side and "
            f"{IMAGE_MAX_PIXELS // 1_000_000} megapixels in all (e.g. 4096x4096)."
        )


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
        if isinstance(avatar, UploadedFile):
            too_many_pixels(avatar, "avatar")
        return avatar


class CreatorProfileEditForm(CreatorProfileForm):
    class Meta(CreatorProfileForm.Meta):
        fields: tuple[str, ...] = ("display_name", "bio", "avatar", "payout_address")
