from django.urls import path

from staff import views

urlpatterns = [
    path("staff/", views.index, name="staff"),
    path("staff/moderation/", views.moderation, name="staff-moderation"),
    path("staff/moderation/<int:content_id>/takedown", views.take_down, name="staff-takedown"),
    path(
        "staff/moderation/<int:content_id>/takedown/confirm",
        views.confirm_take_down,
        name="staff-takedown-confirm",
    ),
    path("staff/moderation/<int:content_id>/restore", views.restore, name="staff-restore"),
    path("staff/reconciliation/", views.reconciliation_list, name="staff-reconciliation"),
    path(
        "staff/reconciliation/transfers/<int:transfer_id>/attach",
        views.attach,
        name="staff-attach",
    ),
    path(
        "staff/reconciliation/transfers/<int:transfer_id>/resolve",
        views.resolve_transfer,
        name="staff-resolve-transfer",
    ),
    path(
        "staff/reconciliation/invoices/<str:invoice_id>/resolve",
        views.resolve_invoice,
        name="staff-resolve-invoice",
    ),
    path("staff/audit/", views.audit_log, name="staff-audit"),
    path("staff/health/", views.swarm_health, name="staff-health"),
]
