"""How the platform turns a request down: ``Refused``, the one base of every refusal.

A service raises a ``Refused`` (usually one of its app's subclasses: ``PaymentRefused``,
``TipRefused``, ``swarm.contents.NotFound``…) with a message for people; the class says which
HTTP status answers it and, where API clients branch on the reason, a machine-readable
``code``. The JSON API turns any of them into ``{"detail": message}`` (plus ``"code"``) with
that status (``btt_platform.api``); pages show the message in their form.
"""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    """A request the platform turns down, with the HTTP status and a message for the user.

    Subclasses set ``status`` (400 unless they say otherwise: 403, 404, 409, 429…) and may set
    ``code``, which the API then sends beside the message."""

    status: int = 400
    code: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, Any]:
        """The API's error body: ``{"detail": message}``, with ``"code"`` if the class has one."""
        body: dict[str, Any] = {"detail": self.message}
        if self.code is not None:
            body["code"] = self.code
        return body
