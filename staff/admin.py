from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from staff.models import AuditEntry

M = TypeVar("M", bound=Model)


class ReadOnlyAdmin(admin.ModelAdmin[M], Generic[M]):
    """Shown, searched and filtered, never changed through the admin: these rows change only
    through their services (state machines, the engine, the watcher), which keep their logs.
    Nobody, superusers included, adds, edits or deletes them here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline[M, Any], Generic[M]):
    """A record's log or payments shown under it, never added, changed or deleted here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin[AuditEntry]):
    list_display = ("created_at", "actor", "action", "target_type", "target_id", "target_label",
                    "reason")  # fmt: skip
    list_filter = ("action", "target_type", "created_at")
    search_fields = ("actor__username", "target_id", "target_label", "reason")
    date_hierarchy = "created_at"
