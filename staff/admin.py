from __future__ import annotations

from django.contrib import admin

from btt_platform.readonly_admin import ReadOnlyAdmin
from staff.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin[AuditEntry]):
    list_display = ("created_at", "actor", "action", "target_type", "target_id", "target_label",
                    "reason")  # fmt: skip
    list_filter = ("action", "target_type", "created_at")
    search_fields = ("actor__username", "target_id", "target_label", "reason")
    date_hierarchy = "created_at"
