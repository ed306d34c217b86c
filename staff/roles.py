"""Staff roles: Django groups and the permissions each one holds.

A role is a group; a staff member is an active user with ``is_staff`` in one of them (a
superuser holds every permission). The data migration ``0002_roles`` creates the groups from
this table, so the table is the one place that says who may do what.
"""

from __future__ import annotations

from typing import Final

MODERATOR: Final = "moderator"
FINANCE: Final = "finance"

MODERATE: Final = "staff.moderate_content"
RECONCILE: Final = "staff.reconcile_payments"
VIEW_AUDIT: Final = "staff.view_auditentry"
VIEW_HEALTH: Final = "staff.view_swarm_health"

# "app_label.codename" per role. View permissions open the matching Django admin pages
# read-only; nothing here lets a role change a model through the admin: changes go through
# the staff pages, which call the services and write the audit log.
ROLE_PERMISSIONS: Final[dict[str, tuple[str, ...]]] = {
    MODERATOR: (
        MODERATE,
        VIEW_AUDIT,
        VIEW_HEALTH,
        "accounts.view_user",
        "creators.view_creator",
        "swarm.view_content",
        "swarm.view_contentfile",
        "swarm.view_enginenode",
    ),
    FINANCE: (
        RECONCILE,
        VIEW_AUDIT,
        "accounts.view_user",
        "creators.view_creator",
        "payments.view_contentprice",
        "payments.view_invoice",
        "payments.view_invoiceevent",
        "payments.view_payment",
        "payments.view_txclaim",
        "payments.view_unmatchedtransfer",
        "payments.view_chaincursor",
    ),
}
