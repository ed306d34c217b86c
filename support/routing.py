from django.urls import path

from support.consumers import CampaignConsumer, LiveConsumer, OverlayConsumer

# Neither a session nor a user is read by these: the overlay's key in its path is its whole
# credential, and the live and campaign sockets carry public figures (btt_site.routing).
sessionless_websocket_urlpatterns = [
    path("ws/overlay/<str:key>/", OverlayConsumer.as_asgi()),
    path("ws/live/<str:handle>/", LiveConsumer.as_asgi()),
    path("ws/campaign/<int:campaign_id>/", CampaignConsumer.as_asgi()),
]
