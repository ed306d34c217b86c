"""The fan's swarm settings: their passkey (rotating it when it leaked) and P2P in the browser.

A passkey is in every .torrent (the announce URL) and every web-seed URL a fan downloaded.
Rotating revokes it: the tracker refuses it and its web-seed links answer 403 at once; the
fan downloads their torrents again to get the new one.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from swarm import peer_sharing, services
from swarm.models import Passkey
from swarm.tracker.auth import forget_passkey
from swarm.webseed.tokens import clear_auth_cache


def rotate_now(user: User) -> Passkey:
    """Revoke ``user``'s passkey and issue a new one; this process's web seed and tracker
    forget the decisions they cached for the old one, so its links and announces stop at once."""
    old = Passkey.objects.filter(user=user, revoked_at__isnull=True).values_list("key", flat=True)
    revoked = list(old)
    passkey = services.rotate_passkey(user)
    clear_auth_cache()
    for key in revoked:
        forget_passkey(key)
    return passkey


@login_required
def passkey_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    current = Passkey.objects.filter(user=request.user, revoked_at__isnull=True).first()
    revoked = Passkey.objects.filter(user=request.user, revoked_at__isnull=False).count()
    return render(request, "settings/passkey.html", {"passkey": current, "revoked": revoked})


@login_required
@require_POST
def rotate_passkey(request: AuthenticatedHttpRequest) -> HttpResponse:
    rotate_now(request.user)
    messages.success(
        request,
        "New passkey issued. Your old torrents and download links no longer work: download "
        "the .torrent of each release again from your library.",
    )
    return redirect("passkey-settings")


@login_required
def peer_sharing_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    """P2P in the browser: on or off, and whether paid items share too."""
    if request.method == "POST":
        peer_sharing.set_preference(
            request.user,
            enabled=request.POST.get("enabled") == "on",
            paid=request.POST.get("paid") == "on",
        )
        messages.success(request, "Saved.")
        return redirect("p2p-settings")
    choice = peer_sharing.preference(request.user)
    return render(request, "settings/p2p.html", {"choice": choice})
