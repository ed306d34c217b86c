"""What a request about webhooks is refused with: an HTTP status and a message."""

from __future__ import annotations

from btt_platform.errors import Refused


class WebhookRefused(Refused):
    """A request about webhooks that is turned down (400 unless a subclass says otherwise)."""


class NotACreator(WebhookRefused):
    status = 403


class NotFound(WebhookRefused):
    status = 404


class UnsafeUrl(WebhookRefused):
    """Not an HTTPS URL of a public address (or it cannot be resolved)."""

    status = 422


class TooManyWebhooks(WebhookRefused):
    status = 409
