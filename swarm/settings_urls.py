from django.urls import path

from swarm import settings_views

urlpatterns = [
    path("settings/passkey/", settings_views.passkey_settings, name="passkey-settings"),
    path("settings/passkey/rotate/", settings_views.rotate_passkey, name="rotate-passkey"),
    path("settings/p2p/", settings_views.peer_sharing_settings, name="p2p-settings"),
]
