from django.urls import path

from studio.views import pages, refunds, studio, webhooks

urlpatterns = [
    path("c/<str:handle>/", pages.creator_page, name="creator"),
    path("covers/<int:content_id>/<str:name>", pages.content_cover, name="content-cover"),
    # The creator's studio.
    path("studio/", studio.dashboard, name="studio"),
    path("studio/content/", studio.content_list, name="studio-contents"),
    path("studio/content/new/", studio.new_content, name="studio-new"),
    path("studio/content/<int:content_id>/", studio.content_edit, name="studio-content"),
    path("studio/content/<int:content_id>/upload/", studio.content_upload, name="studio-upload"),
    path("studio/content/<int:content_id>/stats/", studio.content_stats, name="studio-stats"),
    path("studio/content/<int:content_id>/publish/", studio.content_publish, name="studio-publish"),
    path("studio/sales/", studio.sales, name="studio-sales"),
    path("studio/sales.csv", studio.sales_csv, name="studio-sales-csv"),
    path("studio/refunds/", refunds.refund_requests, name="studio-refunds"),
    path(
        "studio/refunds/<int:request_id>/record/",
        refunds.record_refund,
        name="studio-refund-record",
    ),
    path("studio/webhooks/", webhooks.webhooks_page, name="studio-webhooks"),
    path(
        "studio/webhooks/<int:webhook_id>/delete/",
        webhooks.webhook_delete,
        name="studio-webhook-delete",
    ),
    path(
        "studio/webhooks/<int:webhook_id>/secret/",
        webhooks.webhook_rotate,
        name="studio-webhook-rotate",
    ),
    path(
        "studio/webhooks/<int:webhook_id>/toggle/",
        webhooks.webhook_toggle,
        name="studio-webhook-toggle",
    ),
    path(
        "studio/webhooks/<int:webhook_id>/resume/",
        webhooks.webhook_resume,
        name="studio-webhook-resume",
    ),
    path(
        "studio/webhooks/<int:webhook_id>/deliveries/",
        webhooks.webhook_deliveries,
        name="studio-webhook-deliveries",
    ),
]
