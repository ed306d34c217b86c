from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import services, wallets
from accounts.forms import SignupForm, TokenForm
from accounts.http import AuthenticatedHttpRequest


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}! Your fan account is ready.")
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def tokens(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        issued = services.issue_token(request.user, form.cleaned_data["name"])
        new_secret = issued.secret
        messages.success(request, "Token created. Copy it now: it will not be shown again.")
        form = TokenForm()
    return render(
        request,
        "accounts/tokens.html",
        {"form": form, "tokens": request.user.api_tokens.all(), "new_secret": new_secret},
    )


@login_required
@require_POST
def revoke_token(request: AuthenticatedHttpRequest, token_id: int) -> HttpResponse:
    if services.revoke_token(request.user, token_id):
        messages.success(request, "Token revoked.")
    else:
        messages.error(request, "That token does not exist or is already revoked.")
    return redirect("tokens")


@login_required
def wallet_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The fan's verified wallets, and verifying one more through TronLink (wallets.js)."""
    return render(
        request,
        "accounts/wallets.html",
        {"wallets": request.user.verified_wallets.all()},
    )


@login_required
@require_POST
def remove_wallet(request: AuthenticatedHttpRequest) -> HttpResponse:
    address = request.POST.get("address", "")
    if wallets.remove_wallet(request.user, address):
        messages.success(request, f"Wallet {address} removed.")
    else:
        messages.error(request, "That wallet is not among your verified wallets.")
    return redirect("wallets")
