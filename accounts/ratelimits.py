"""What the log-in limits count by: the account a request would authenticate as."""

from __future__ import annotations

from django.contrib.auth.forms import UsernameField
from django.http import HttpRequest

from accounts.models import User


def login_username(group: str, request: HttpRequest) -> str:
    """The posted username as the login form cleans it (stripped, NFKC) and the model
    normalises it: " fan ", "fan" and "fan" in full-width letters are one account, so one
    count."""
    raw = request.POST.get("username", "")
    cleaned = UsernameField().to_python(raw) or ""
    return User.normalize_username(cleaned)
