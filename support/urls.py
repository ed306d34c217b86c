from django.conf import settings
from django.urls import path
from django_ratelimit.decorators import ratelimit

from support import services, views

# Each tip is an invoice the watcher watches: per account (or address) limits, one count for
# the form and the API (``support.api.create_tip``).
by_user = ratelimit(
    group=services.TIPS_LIMIT_GROUP, key="user_or_ip", rate=settings.TIP_RATE, method="POST"
)

urlpatterns = [
    path("c/<str:handle>/tip/", by_user(views.tip), name="tip"),
    path("c/<str:handle>/live/", views.live_page, name="live"),
    path("tips/<uuid:tip_id>/", views.tip_payment, name="tip-payment"),
    path("overlay/<str:key>/", views.overlay, name="overlay"),
    path("studio/tips/", views.studio_tips, name="studio-tips"),
    path("studio/tips/overlay-key/", views.studio_rotate_key, name="studio-tips-rotate"),
    path("studio/tips/test-alert/", views.studio_test_alert, name="studio-tips-test"),
    path("studio/live/", views.studio_live, name="studio-live"),
    path("studio/live/end/", views.studio_live_end, name="studio-live-end"),
    path("campaigns/<int:campaign_id>/", by_user(views.campaign_page), name="campaign"),
    path("pledges/", views.my_pledges, name="pledges"),
    path("pledges/<int:pledge_id>/", views.pledge_page, name="pledge"),
    path("studio/campaigns/", views.studio_campaigns, name="studio-campaigns"),
    path(
        "studio/campaigns/<int:campaign_id>/updates/",
        views.studio_campaign_update,
        name="studio-campaign-update",
    ),
]
