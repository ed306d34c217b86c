from django.urls import path

from creators import views

urlpatterns = [
    path("", views.home, name="home"),
    path("become-creator/", views.become_creator, name="become-creator"),
    path("settings/profile/", views.edit_profile, name="creator-profile"),
    path("c/<str:handle>/", views.creator_page, name="creator"),
    path("covers/<int:content_id>/<str:name>", views.content_cover, name="content-cover"),
    # The creator's studio.
    path("studio/", views.dashboard, name="studio"),
    path("studio/content/", views.content_list, name="studio-contents"),
    path("studio/content/new/", views.new_content, name="studio-new"),
    path("studio/content/<int:content_id>/", views.content_edit, name="studio-content"),
    path("studio/content/<int:content_id>/upload/", views.content_upload, name="studio-upload"),
    path("studio/content/<int:content_id>/stats/", views.content_stats, name="studio-stats"),
    path("studio/content/<int:content_id>/publish/", views.content_publish, name="studio-publish"),
    path("studio/sales/", views.sales, name="studio-sales"),
    path("studio/sales.csv", views.sales_csv, name="studio-sales-csv"),
    path("studio/webhooks/", views.webhooks_page, name="studio-webhooks"),
    path(
        "studio/webhooks/<int:webhook_id>/delete/",
        views.webhook_delete,
        name="studio-webhook-delete",
    ),
    path(
        "studio/webhooks/<int:webhook_id>/secret/",
        views.webhook_rotate,
        name="studio-webhook-rotate",
    ),
    path(
        "studio/webhooks/<int:webhook_id>/toggle/",
        views.webhook_toggle,
        name="studio-webhook-toggle",
    ),
    path(
        "studio/webhooks/<int:webhook_id>/resume/",
        views.webhook_resume,
        name="studio-webhook-resume",
    ),
    path(
        "studio/webhooks/<int:webhook_id>/deliveries/",
        views.webhook_deliveries,
        name="studio-webhook-deliveries",
    ),
]
