from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from btt_platform.api import api
from btt_platform.health import healthz, healthz_deep

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("healthz/deep", healthz_deep, name="healthz-deep"),
    path("admin/", admin.site.urls),
    path("", include("staff.urls")),
    path("api/v1/", api.urls),
    path("", include("accounts.urls")),
    path("", include("creators.urls")),
    path("", include("studio.urls")),
    path("", include("swarm.urls")),
    path("", include("swarm.settings_urls")),
    path("", include("payments.urls")),
    path("", include("purchases.urls")),
    path("", include("support.urls")),
    path("", include("memberships.urls")),
    path("", include("memberships.post_urls")),
]

if settings.DEBUG:
    # Production serves media from nginx (deploy/nginx.conf). Only avatars are public: content
    # files and unfinished uploads also live below MEDIA_ROOT and go out only through the web
    # seed's token checks.
    urlpatterns.append(
        re_path(r"^media/(?P<path>avatars/.*)$", serve, {"document_root": settings.MEDIA_ROOT})
    )
