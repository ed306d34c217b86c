from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django_ratelimit.decorators import ratelimit

from accounts import views
from accounts.forms import QueuedPasswordResetForm
from accounts.ratelimits import login_username

# Brute force and mail-bombing guards: per client address, and per account name for log-ins.
by_ip = ratelimit(key="ip", rate=settings.AUTH_RATE, method="POST")
# Keyed on the name as the login form normalises it: padding or full-width letters are the same
# account, so the same count.
by_username = ratelimit(key=login_username, rate=settings.AUTH_RATE, method="POST")

urlpatterns = [
    path("signup/", by_ip(views.signup), name="signup"),
    path("settings/tokens/", views.tokens, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", views.revoke_token, name="revoke-token"),
    path("settings/wallets/", views.wallet_list, name="wallets"),
    path("settings/wallets/remove/", views.remove_wallet, name="remove-wallet"),
    path("accounts/login/", by_ip(by_username(auth_views.LoginView.as_view())), name="login"),
    path(
        "accounts/password_reset/",
        by_ip(auth_views.PasswordResetView.as_view(form_class=QueuedPasswordResetForm)),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
]
