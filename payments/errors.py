"""What the payment services refuse, with the HTTP status and a message for the user.

The API answers any ``PaymentRefused`` like every ``Refused`` (``btt_platform.errors``); pages
show its ``message`` with its ``status``. The subclasses say which refusal it was.
"""

from __future__ import annotations

from btt_platform.errors import Refused


class PaymentRefused(Refused):
    """A request about paying the platform turns down (400 unless a subclass says otherwise)."""


class NotFound(PaymentRefused):
    status = 404


class TokenNotAccepted(PaymentRefused):
    status = 422


class TooManyOpenInvoices(PaymentRefused):
    status = 429


class NoUniqueAmount(PaymentRefused):
    """Every tag for this amount on this address is taken by an open invoice."""

    status = 503


class ClaimConflict(PaymentRefused):
    """The txid is bound to (or credited to) another invoice."""

    status = 409


class TooManyClaims(PaymentRefused):
    status = 429


class ProofRequired(PaymentRefused):
    """A claim came with no signature, and the claimant has no verified wallet."""

    status = 400


class InvalidTransition(Exception):
    """A state change the table does not allow (a bug in the caller)."""


class StateConflict(Exception):
    """The invoice was not in the expected state any more: another process moved it first."""
