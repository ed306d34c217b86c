from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from creators.models import Creator
from payments.models import WebhookEvent
from payments.money import Amount, AmountError, Token
from payments.services import accepted_tokens
from purchases.services import price_of
from swarm.models import Content


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


# --- the studio ----------------------------------------------------------------------------

# A cover is shown on cards and content pages; 5 MiB is ample for a 2000 px JPEG or WebP.
COVER_MAX_BYTES = 5 * 1024 * 1024
# Formats every browser shows. Pillow opens many more (TIFF, BMP, PSD...), which would not show.
COVER_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
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


class ContentDetailsForm(forms.ModelForm[Content]):
    """Title, description, access, listing, cover and price of a content.

    Access is part of the torrent (the BEP 27 private flag, inside the info dict), so it is
    fixed once the content is published: pass ``access_locked=True`` then and the field is
    shown but not taken from the request. The price is a decimal string in the token's units,
    parsed exactly by ``payments.money.Amount``; it is required for paid content.
    """

    price = forms.CharField(
        label="Price",
        required=False,
        max_length=100,
        help_text="In BTT, for example 250 or 0.5 (up to 18 decimals, stored exactly).",
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    token = forms.ChoiceField(label="Token", required=False)

    class Meta:
        model = Content
        fields: tuple[str, ...] = ("title", "description", "access", "unlisted", "cover")
        labels = {"unlisted": "Unlisted", "access": "Access"}
        help_texts = {
            "unlisted": "Only people with the link find it; it is not shown on your page.",
            "cover": "JPEG, PNG, WebP or GIF, at most 5 MiB.",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 6}),
            "access": forms.RadioSelect,
            "cover": forms.ClearableFileInput(
                attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}
            ),
        }

    def __init__(self, *args: Any, access_locked: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_locked = access_locked
        tokens = accepted_tokens()
        token_field = self.fields["token"]
        assert isinstance(token_field, forms.ChoiceField)
        token_field.choices = [(t.value, t.label) for t in tokens]
        if len(tokens) == 1:
            token_field.widget = forms.HiddenInput()
        if access_locked:
            self.fields["access"].disabled = True
            self.fields[
                "access"
            ].help_text = (
                "Fixed once published: it is written into the torrent (a paid one is private)."
            )
        current = price_of(self.instance) if self.instance.pk else None
        if current is not None and not self.is_bound:
            self.initial["price"] = current.decimal_string()
            self.initial["token"] = current.token.value
        self.initial.setdefault("token", Token.BTT.value)

    def clean_title(self) -> str:
        return str(self.cleaned_data["title"]).strip()

    def clean_cover(self) -> Any:
        cover = self.cleaned_data.get("cover")
        if not isinstance(cover, UploadedFile):
            return cover  # unchanged (the stored file), cleared (False) or none
        if (cover.size or 0) > COVER_MAX_BYTES:
            raise forms.ValidationError("The cover must be at most 5 MiB.")
        image = getattr(cover, "image", None)  # set by ImageField once Pillow has read it
        extension = COVER_FORMATS.get(getattr(image, "format", None) or "")
        if extension is None:
            raise forms.ValidationError("The cover must be a JPEG, PNG, WebP or GIF image.")
        too_many_pixels(cover, "cover")
        # The stored name follows what the bytes are, not what the browser called the file.
        cover.name = f"cover.{extension}"
        return cover

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        access = cleaned.get("access", self.instance.access)
        text = str(cleaned.get("price") or "").strip()
        token = cleaned.get("token") or Token.BTT.value
        cleaned["amount"] = None
        if access == Content.Access.PAID:
            if not text:
                self.add_error("price", "Paid content needs a price.")
            else:
                try:
                    amount = Amount.parse(text, token)
                except (AmountError, ValueError) as error:
                    self.add_error("price", f"Enter an amount like 250 or 0.5: {error}.")
                else:
                    if amount.units <= 0:
                        self.add_error("price", "A price is more than zero.")
                    cleaned["amount"] = amount
        return cleaned


class NewContentForm(ContentDetailsForm):
    class Meta(ContentDetailsForm.Meta):
        fields: tuple[str, ...] = ("title", "description", "access", "unlisted")


class WebhookForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        assume_scheme="https",
        help_text="https:// on a public address. Invoice events are POSTed there, signed.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/btt-hooks"}),
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=WebhookEvent.choices,
        initial=[event.value for event in WebhookEvent],
        widget=forms.CheckboxSelectMultiple,
    )
    description = forms.CharField(label="Description", max_length=100, required=False)
