from __future__ import annotations

from django import forms

from payments.reconciliation import NOTE_MAX
from swarm.services import TAKEDOWN_REASON_MAX


class TakedownForm(forms.Form):
    reason = forms.CharField(
        label="Public reason",
        max_length=TAKEDOWN_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        strip=True,
        help_text=(
            "Public: shown to the creator, to buyers in their library and on open download "
            "pages, on the content's page and by the tracker. Keep private notes out of it."
        ),
    )


class RestoreForm(forms.Form):
    note = forms.CharField(max_length=TAKEDOWN_REASON_MAX, required=False, strip=True)


class AttachForm(forms.Form):
    invoice = forms.UUIDField(help_text="the invoice this transfer was meant to pay")
    note = forms.CharField(max_length=NOTE_MAX, required=False, strip=True)


class ResolveForm(forms.Form):
    note = forms.CharField(max_length=NOTE_MAX, strip=True)


class AuditFilter(forms.Form):
    SOURCES = [
        ("", "everything"),
        ("staff", "staff actions"),
        ("money", "money transitions"),
        ("admin", "Django admin edits"),
    ]

    source = forms.ChoiceField(choices=SOURCES, required=False)
    actor = forms.CharField(max_length=150, required=False, help_text="username")
    action = forms.CharField(max_length=32, required=False)
    target = forms.CharField(max_length=64, required=False, help_text="an id")
    since = forms.DateField(required=False, help_text="YYYY-MM-DD")
    until = forms.DateField(required=False, help_text="YYYY-MM-DD, included")
