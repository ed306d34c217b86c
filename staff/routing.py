from django.urls import path

from staff.consumers import SwarmHealthConsumer

websocket_urlpatterns = [
    path("ws/staff/health/", SwarmHealthConsumer.as_asgi()),
]
