"""The audit log of staff actions. Money-state transitions have their own append-only log
(``payments.InvoiceEvent``); the audit page reads both."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from btt_platform.audit import AuditAction

# AppendOnly is re-exported: what callers catch when a record is about to be changed.
from btt_platform.records import AppendOnly as AppendOnly
from btt_platform.records import AppendOnlyModel, AppendOnlyQuerySet


class AuditEntry(AppendOnlyModel):
    """One staff action: who did what to which object, when and why. Append-only."""

    Action = AuditAction

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="audit_entries"
    )
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    # A generic reference rather than a foreign key: the log outlives what it names.
    target_type = models.CharField(max_length=50, help_text="app_label.model")
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text="amounts as strings")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AppendOnlyQuerySet["AuditEntry"].as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit entries"
        permissions = [
            ("moderate_content", "Take content down and restore it"),
            ("reconcile_payments", "Attach and resolve unmatched transfers"),
            ("view_swarm_health", "See the swarm health page"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_id} {self.action} {self.target}"

    @property
    def target(self) -> str:
        return f"{self.target_type}#{self.target_id}"
