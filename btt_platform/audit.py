"""The audit log as the services see it: what a staff action is called, and ``record``.

Services that act for a staff member (a takedown in ``swarm.services``, a reconciliation in
``payments.reconciliation``) call ``record`` inside the transaction of the change, so the change
and its entry commit together or not at all. The entries are stored by the staff console
(``staff.models.AuditEntry``), which installs its writer with ``keep_with`` in
``StaffConfig.ready``: the apps below the console name actions without importing it, as
``payments.outcomes`` lets payments announce to the sellers above it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from django.db import models

if TYPE_CHECKING:
    from accounts.models import User


class AuditAction(models.TextChoices):
    TAKEDOWN = "content.takedown", "content taken down"
    RESTORE = "content.restore", "content restored"
    ATTACH = "transfer.attach", "unmatched transfer attached to an invoice"
    RESOLVE_TRANSFER = "transfer.resolve", "unmatched transfer resolved"
    RESOLVE_INVOICE = "invoice.resolve", "invoice discrepancy resolved"


class AuditWriter(Protocol):
    def __call__(
        self,
        actor: User,
        action: str,
        target: models.Model,
        *,
        reason: str = ...,
        detail: Mapping[str, Any] | None = ...,
    ) -> object: ...


class NoAuditLog(RuntimeError):
    """A staff action was about to happen with no audit log installed: it is refused rather
    than left unrecorded."""


_writer: AuditWriter | None = None


def keep_with(writer: AuditWriter) -> None:
    """Install the audit log's writer (``staff.audit.record``, from ``StaffConfig.ready``)."""
    global _writer
    _writer = writer


def record(
    actor: User,
    action: AuditAction,
    target: models.Model,
    *,
    reason: str = "",
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Write one entry in the current transaction. Raises ``NoAuditLog`` when no writer is
    installed, so the change it documents rolls back with it."""
    if _writer is None:
        raise NoAuditLog("No audit log is installed (the staff app registers it).")
    _writer(actor, action, target, reason=reason, detail=detail)
