from django.urls import path

from support.consumers import CampaignConsumer, LiveConsumer, OverlayConsumer

websocket_urlpatterns = [
    path("ws/overlay/<str:key>/", OverlayConsumer.as_asgi()),
    path("ws/live/<str:handle>/", LiveConsumer.as_asgi()),
    path("ws/campaign/<int:campaign_id>/", CampaignConsumer.as_asgi()),
]
