"""The JSON API under /api/v1/ (django-ninja): schema at /api/v1/openapi.json, docs at /api/v1/docs.

Browser pages use the session (with CSRF on writes); scripts send
``Authorization: Bearer <personal token>``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.parser import Parser
from ninja.security import HttpBearer, django_auth
from ninja.types import DictStrAny

from accounts.models import User
from accounts.services import authenticate_token
from btt_platform.errors import Refused


class PersonalTokenAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = authenticate_token(token)
        if user is not None:
            request.user = user
        return user


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


class TextParser(Parser):
    """JSON bodies, refusing any text with a NUL character (``\u0000``) in it: PostgreSQL cannot
    store one, so it would otherwise end as a 500 wherever the text is saved."""

    def parse_body(self, request: HttpRequest) -> DictStrAny:
        data = super().parse_body(request)
        if _holds_nul(data):
            raise HttpError(400, "Text may not contain NUL (\\u0000) characters.")
        return data


api = NinjaAPI(
    parser=TextParser(),
    title="BTT Creators API",
    version="1",
    description="Everything a creator or a fan can do in the pages. Amounts are strings.",
    auth=[PersonalTokenAuth(), django_auth],
    urls_namespace="api-v1",
)


@api.exception_handler(ValidationError)
def model_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # The same shape as ninja's own 422s, so clients handle one format.
    errors: list[dict[str, Any]] = []
    if hasattr(exc, "error_dict"):
        for field, field_errors in exc.message_dict.items():
            errors.extend({"loc": ["body", field], "msg": msg} for msg in field_errors)
    else:
        errors.extend({"loc": ["body"], "msg": msg} for msg in exc.messages)
    return api.create_response(request, {"detail": errors}, status=422)


@api.exception_handler(Refused)
def refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    # Every app's refusals answer alike, so endpoints let them through instead of catching them.
    return api.create_response(request, exc.to_json(), status=exc.status)


@api.exception_handler(RequestDataTooBig)
def body_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    # JSON like every other answer here, not Django's HTML 400 page.
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    detail = f"The request body is larger than the {limit} bytes allowed."
    return api.create_response(request, {"detail": detail}, status=413)


api.add_router("/", "accounts.api.router")
api.add_router("/creators", "creators.api.router")
api.add_router("/contents", "swarm.api.router")
api.add_router("/", "swarm.passkey_api.router")
api.add_router("/", "swarm.peer_sharing_api.router")
api.add_router("/", "payments.api.router")
api.add_router("/", "purchases.api.router")
api.add_router("/webhooks", "payments.webhooks.api.router")
api.add_router("/", "support.api.router")
api.add_router("/", "memberships.api.router")
api.add_router("/", "memberships.post_api.router")
