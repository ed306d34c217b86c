"""The studio's forms: a content's details and price, and a webhook. The image limits and
``too_many_pixels`` are the profile forms' too (``creators.forms``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from creators.forms import too_many_pixels
from payments.models import WebhookEvent
from payments.money import Amount, AmountError, Token
from payments.pricing import accepted_tokens
from purchases.models import MAX_START_DAYS, MAX_WINDOW_HOURS, MIN_START_DAYS, MIN_WINDOW_HOURS
from purchases.rentals import RentalOffer, rental_terms_of
from purchases.services import price_of
from swarm.models import Content

# A cover is shown on cards and content pages; 5 MiB is ample for a 2000 px JPEG or WebP.
COVER_MAX_BYTES = 5 * 1024 * 1024
# Formats every browser shows. Pillow opens many more (TIFF, BMP, PSD...), which would not show.
COVER_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}


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
    rent_price = forms.CharField(
        label="Rental fee",
        required=False,
        max_length=100,
        help_text="Leave empty to sell only. In the same token as the price.",
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    rent_window_hours = forms.IntegerField(
        label="Rental window (hours)",
        required=False,
        initial=48,
        min_value=MIN_WINDOW_HOURS,
        max_value=MAX_WINDOW_HOURS,
        help_text="From the fan's first play or download.",
    )
    rent_start_within_days = forms.IntegerField(
        label="Rental ends at the latest (days after payment)",
        required=False,
        initial=30,
        min_value=MIN_START_DAYS,
        max_value=MAX_START_DAYS,
    )

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
        terms = rental_terms_of(self.instance) if self.instance.pk else None
        if terms is not None and not self.is_bound:
            self.initial["rent_price"] = terms.amount.decimal_string()
            self.initial["rent_window_hours"] = terms.window_hours
            self.initial["rent_start_within_days"] = terms.start_within_days

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
        cleaned["rental"] = self._rental(cleaned, token) if access == Content.Access.PAID else None
        return cleaned

    def _rental(self, cleaned: dict[str, Any], token: str) -> RentalOffer | None:
        """The rental terms entered; None when the rent price is left empty (not for rent)."""
        text = str(cleaned.get("rent_price") or "").strip()
        if not text:
            return None
        try:
            amount = Amount.parse(text, token)
        except (AmountError, ValueError) as error:
            self.add_error("rent_price", f"Enter an amount like 5 or 0.5: {error}.")
            return None
        if amount.units <= 0:
            self.add_error("rent_price", "A rent price is more than zero.")
            return None
        return RentalOffer(
            amount,
            cleaned.get("rent_window_hours") or 48,
            cleaned.get("rent_start_within_days") or 30,
        )


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
