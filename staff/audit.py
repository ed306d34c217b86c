"""Writing to the audit log: every staff action goes through ``record``, inside the
transaction that makes the change, so the change and its entry commit together or not at all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models

from accounts.models import User
from staff.models import AuditEntry


def record(
    actor: User,
    action: str,
    target: models.Model,
    *,
    reason: str = "",
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:200],
        reason=reason,
        detail=dict(detail or {}),
    )
