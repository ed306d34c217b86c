from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.template import loader

from accounts.mail import queue_email
from accounts.models import User


class SignupForm(UserCreationForm[User]):
    email = forms.EmailField(required=True, help_text="Used for password resets and receipts.")

    class Meta:
        model = User
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"]).strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists.")
        return email


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's reset form, with the email in the outbox and sent by the worker (accounts.mail)."""

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        html = (
            loader.render_to_string(html_email_template_name, context)
            if html_email_template_name
            else None
        )
        # A row in the outbox now; the worker sends it after commit. With the broker away the
        # reset is still answered (never a 500) and the sweep sends the email.
        queue_email(subject, body, [to_email], from_email, html)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'upload script'.")
