from django.urls import path

from swarm.consumers import ContentConsumer

websocket_urlpatterns = [
    path("ws/content/<int:content_id>/", ContentConsumer.as_asgi()),
]
